import { SEARCH_RESOURCES, type SearchSinkOptions } from './config.js';
import { ilmPolicy, ismPolicy } from './lifecycle.js';
import type { LifecycleInstall, SearchService } from './service.js';
import { templateBodies } from './templates.js';

export interface InstallReport {
  dataStream: string;
  /** `unavailable` when the cluster has no lifecycle plugin (an OpenSearch without ISM): documents are kept until deleted by hand. */
  lifecycle: LifecycleInstall;
}

/**
 * Puts the lifecycle policy, the component and index templates, and the data stream in place.
 * Every step overwrites or tolerates what exists, so installing again is harmless.
 */
export async function installSearchResources(service: SearchService, dataStream: string, o: Pick<SearchSinkOptions, 'lifecycle' | 'replicas'>): Promise<InstallReport> {
  const lifecycle = await service.putLifecyclePolicy(SEARCH_RESOURCES.lifecyclePolicy, { ilm: ilmPolicy(o.lifecycle), ism: ismPolicy(o.lifecycle) });
  const bodies = templateBodies(service.product, o, lifecycle === 'installed');
  for (const c of bodies.components) await service.putComponentTemplate(c.name, c.body);
  await service.putIndexTemplate(bodies.indexTemplate.name, bodies.indexTemplate.body);
  await service.ensureDataStream(dataStream);
  return { dataStream, lifecycle };
}
