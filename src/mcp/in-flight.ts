// The requests an MCP connection has received and not yet answered, so that
// closing it — the client ended stdin, say, right after its last request —
// answers them first instead of dropping them (the SDK's close aborts every
// request in hand and sends nothing more).
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  type CancelledNotification,
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';

/**
 * Watches `transport` — before the server connects to it: the server keeps
 * these callbacks and calls them first. A request counts from its arrival
 * until its answer has been written (`send` resolved); a request the client
 * cancels gets no answer, and one on a connection that closed cannot.
 * Returns `answered`: resolves once every request received so far has been
 * answered (or cancelled, or the connection lost).
 */
export function watchRequests(transport: Transport): () => Promise<void> {
  const pending = new Set<RequestId>();
  let waiting: (() => void)[] = [];
  const settle = (id: RequestId | undefined) => {
    if (id !== undefined) pending.delete(id);
    if (pending.size > 0) return;
    for (const resolve of waiting) resolve();
    waiting = [];
  };

  const onmessage = transport.onmessage;
  transport.onmessage = (message, extra) => {
    if (isJSONRPCRequest(message)) pending.add(message.id);
    else if (isJSONRPCNotification(message) && message.method === 'notifications/cancelled') {
      settle((message as CancelledNotification).params.requestId);
    }
    onmessage?.(message, extra);
  };
  const onclose = transport.onclose;
  transport.onclose = () => {
    pending.clear();
    settle(undefined);
    onclose?.();
  };
  const send = transport.send.bind(transport);
  transport.send = async (message, options) => {
    try {
      await send(message, options);
    } finally {
      if (isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) {
        settle(message.id);
      }
    }
  };

  return () =>
    pending.size === 0 ? Promise.resolve() : new Promise((resolve) => waiting.push(resolve));
}
