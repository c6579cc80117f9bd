-- The demo target's table; the gateway connects as ci_gateway, the jobs never see this password.
create table deployments (id serial primary key, service text not null, version text not null, deployed_at timestamptz not null default now());
insert into deployments (service, version) values ('payments', 'v1.4.1'), ('payments', 'v1.4.2');
