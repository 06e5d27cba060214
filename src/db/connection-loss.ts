// Transactions that lose their connection, made harmless. postgres.js 3.4.9
// answers a transaction callback that rejects by writing ROLLBACK (or
// ROLLBACK TO SAVEPOINT) on the transaction's connection — even when that
// connection has just closed, and then the write is scheduled on a socket
// that is gone: a TypeError thrown from a timer, which ends the process
// (porsager/postgres#1154, #1208; fixes proposed in #1168, #1209). A database
// restart under a busy engine did exactly that.
//
// The wrapper here gives every transaction callback, and every savepoint, one
// rule: when it fails because the connection was lost (or after the
// transaction is over), it never settles; and a query made on a transaction
// that is over is never sent. There is then nothing to roll back by hand (the
// server already did), postgres.js writes nothing to the closed socket, and
// `begin` itself still rejects — it races the callback with the connection's
// close — so callers see the error and retry as usual. The abandoned callback
// holds no resources and is garbage collected.
import type postgres from 'postgres';
import { isConnectionLost } from './errors.js';

/** Whether the transaction is over: `begin` settled (committed, rolled back, or its connection closed). */
interface Transaction {
  over: boolean;
}

const never = <T>() => new Promise<T>(() => {});

function settleUnlessLost<T>(
  transaction: Transaction,
  work: T | Promise<T> | readonly unknown[],
): Promise<T> {
  const promise = Array.isArray(work) ? Promise.all(work) : Promise.resolve(work);
  return (promise as Promise<T>).catch((error: unknown) =>
    isConnectionLost(error) || transaction.over ? never<T>() : Promise.reject(error),
  );
}

type Callback = (sql: postgres.TransactionSql) => unknown;

function splitArgs(args: unknown[]): { head: unknown[]; fn: Callback } {
  return { head: args.slice(0, -1), fn: args[args.length - 1] as Callback };
}

/**
 * The transaction's client: once the transaction is over, a query made on it
 * (code still running after its connection closed, e.g. an HTTP call that
 * returned late) never runs and never settles, instead of being written to
 * a closed socket.
 */
function guardTransaction(
  tx: postgres.TransactionSql,
  transaction: Transaction,
): postgres.TransactionSql {
  return new Proxy(tx, {
    apply(target, thisArg, args) {
      return transaction.over ? never() : Reflect.apply(target, thisArg, args);
    },
    get(target, property, receiver) {
      if (property === 'unsafe') {
        return (...args: unknown[]) =>
          transaction.over ? never() : (target.unsafe as (...a: unknown[]) => unknown)(...args);
      }
      if (property !== 'savepoint') return Reflect.get(target, property, receiver);
      return (...args: unknown[]) => {
        if (transaction.over) return never();
        const { head, fn } = splitArgs(args);
        // The savepoint itself (SAVEPOINT) can be what meets the closed connection.
        return settleUnlessLost(
          transaction,
          (target.savepoint as (...a: unknown[]) => Promise<unknown>)(
            ...head,
            (sp: postgres.TransactionSql) =>
              settleUnlessLost(transaction, fn(guardTransaction(sp, transaction))),
          ),
        );
      };
    },
  });
}

/** The same client, with `begin` (and the savepoints inside) safe from a lost connection. */
export function surviveConnectionLoss(sql: postgres.Sql): postgres.Sql {
  return new Proxy(sql, {
    get(target, property, receiver) {
      if (property !== 'begin') return Reflect.get(target, property, receiver);
      return (...args: unknown[]) => {
        const { head, fn } = splitArgs(args);
        const transaction: Transaction = { over: false };
        const done = (target.begin as (...a: unknown[]) => Promise<unknown>)(
          ...head,
          (tx: postgres.TransactionSql) =>
            settleUnlessLost(transaction, fn(guardTransaction(tx, transaction))),
        );
        const end = () => {
          transaction.over = true;
        };
        done.then(end, end);
        return done;
      };
    },
  });
}
