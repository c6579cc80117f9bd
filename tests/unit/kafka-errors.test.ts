import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import kafkajs from 'kafkajs';
import { protocolErrorType, retryingTransient, transactionErrorKind } from '../../connectors/kafka/kafka-errors.js';

const { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } = kafkajs;

/** A broker error response as kafkajs raises it. */
const protocol = (type: string, code: number, retriable: boolean) => new KafkaJSProtocolError(Object.assign(new Error(type), { type, code, retriable }) as unknown as Error);

describe('what a failed Kafka transaction call allows', () => {
  it('replaces a fenced producer, wherever the fencing error is wrapped', () => {
    assert.equal(transactionErrorKind(protocol('INVALID_PRODUCER_EPOCH', 47, false)), 'fatal');
    assert.equal(transactionErrorKind(new KafkaJSNumberOfRetriesExceeded(protocol('PRODUCER_FENCED', 90, false), { retryCount: 5, retryTime: 300 })), 'fatal');
    const wrapped = Object.assign(new KafkaJSNonRetriableError('the transaction failed'), { cause: protocol('PRODUCER_FENCED', 90, false) });
    assert.equal(protocolErrorType(wrapped), 'PRODUCER_FENCED');
    assert.equal(transactionErrorKind(wrapped), 'fatal');
  });

  it('repeats the call when the cluster is away or the coordinator busy', () => {
    assert.equal(transactionErrorKind(new KafkaJSConnectionError('connect ECONNREFUSED 127.0.0.1:9092')), 'retry');
    assert.equal(transactionErrorKind(protocol('CONCURRENT_TRANSACTIONS', 51, false)), 'retry', 'kafkajs calls it not retriable; it is, a moment later');
    assert.equal(transactionErrorKind(new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError('gone'), { retryCount: 5, retryTime: 300 })), 'retry');
  });

  it('aborts and resends on anything else', () => {
    assert.equal(transactionErrorKind(protocol('MESSAGE_TOO_LARGE', 10, false)), 'abort');
    assert.equal(transactionErrorKind(new Error('something else')), 'abort');
  });

  it('repeats only transient failures, and gives up on others at once', async () => {
    let calls = 0;
    assert.equal(await retryingTransient(async () => (++calls < 3 ? Promise.reject(protocol('CONCURRENT_TRANSACTIONS', 51, false)) : 'done')), 'done');
    assert.equal(calls, 3);
    calls = 0;
    await assert.rejects(retryingTransient(async () => {
      calls++;
      throw protocol('INVALID_PRODUCER_EPOCH', 47, false);
    }), /INVALID_PRODUCER_EPOCH/);
    assert.equal(calls, 1);
  });
});
