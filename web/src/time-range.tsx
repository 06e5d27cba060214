// The From / To inputs of the log pages: local time in the inputs, ISO
// times in the URL (so a shared link means the same moment anywhere).
import { fromLocalInput, localInput } from './format.js';

export function TimeRange({ from, to }: { from?: string | undefined; to?: string | undefined }) {
  return (
    <>
      <label>
        From{' '}
        <input
          key={`from ${from ?? ''}`}
          name="from"
          type="datetime-local"
          defaultValue={localInput(from)}
        />
      </label>
      <label>
        To{' '}
        <input
          key={`to ${to ?? ''}`}
          name="to"
          type="datetime-local"
          defaultValue={localInput(to)}
        />
      </label>
    </>
  );
}

/** The range a submitted form holds, as ISO times (empty fields left out). */
export function rangeOf(form: FormData): { from: string; to: string } {
  const value = (name: string) => {
    const raw = form.get(name);
    return typeof raw === 'string' ? (fromLocalInput(raw) ?? '') : '';
  };
  return { from: value('from'), to: value('to') };
}
