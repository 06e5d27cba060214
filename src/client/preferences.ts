// The client's /v1/email calls: a contact's email preferences (for an app's
// own settings page) and what became of the emails each feature sent.

export interface EmailTopicPreference {
  name: string;
  label: string;
  description?: string;
  subscribed: boolean;
}

export interface EmailPreferences {
  contact_id: string;
  /** False when the contact unsubscribed from everything (or complained). */
  all: boolean;
  topics: EmailTopicPreference[];
}

export interface EmailPreferenceChanges {
  /** topic → subscribed. */
  topics?: Record<string, boolean>;
  /** false: every topic off; true: clears that. */
  all?: boolean;
}

export interface EmailStatsRow {
  feature: string | null;
  template: string | null;
  sent: number;
  delivered: number;
  bounced: number;
  complained: number;
  opened: number;
  clicked: number;
}

type Request = <T>(method: string, path: string, body?: unknown) => Promise<T>;

export function emailApi(request: Request) {
  return {
    /** The topics a contact (by id, email or external id) receives. */
    preferences: (ref: string) =>
      request<EmailPreferences>('GET', `/email/preferences/${encodeURIComponent(ref)}`),
    /** Sets topics on or off; answers the preferences as they now are. */
    setPreferences: (ref: string, changes: EmailPreferenceChanges) =>
      request<EmailPreferences>('PUT', `/email/preferences/${encodeURIComponent(ref)}`, changes),
    /** Sent, delivered, bounced, complained, opened and clicked per feature and template. */
    stats: (filter: { feature?: string; template?: string } = {}) => {
      const params = new URLSearchParams(filter as Record<string, string>);
      const query = params.toString() ? `?${params}` : '';
      return request<{ stats: EmailStatsRow[] }>('GET', `/email/stats${query}`);
    },
  };
}
