import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { securityOptions } from '../../connectors/kafka/kafka-client.js';

describe('Kafka TLS and SASL settings under librdkafka names', () => {
  it('maps SASL over TLS to the client options', () => {
    const o = securityOptions({ 'security.protocol': 'SASL_SSL', 'sasl.mechanisms': 'SCRAM-SHA-512', 'sasl.username': 'trailgate', 'sasl.password': 's3cret' });
    assert.deepEqual(o.sasl, { mechanism: 'scram-sha-512', username: 'trailgate', password: 's3cret' });
    assert.deepEqual(o.ssl, { rejectUnauthorized: true });
  });

  it('is plaintext without properties', () => {
    assert.deepEqual(securityOptions({}), {});
  });

  it('refuses what it does not support, naming the key and never a value', () => {
    assert.throws(
      () => securityOptions({ 'linger.ms': 5, 'sasl.password': 's3cret' }),
      (err: Error & { code?: string }) => err.code === 'TG_KAFKA_PROPERTY' && /linger\.ms/.test(err.message) && !err.message.includes('s3cret'),
    );
    assert.throws(() => securityOptions({ 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanism': 'GSSAPI', 'sasl.password': 's3cret' }), (err: Error) => /GSSAPI/.test(err.message) && !err.message.includes('s3cret'));
    assert.throws(() => securityOptions({ 'security.protocol': 'SASL_PLAINTEXT', 'sasl.username': 'u' }), /sasl\.password/);
  });
});
