-- Why a sync's last run failed, shown by GET /v1/sync and the Contacts page's
-- Sync panel: beside the checkpoint, not in it, so an error before a run's
-- first page (the source's clock not answering) leaves where the next run
-- starts as the last run left it. A run's start clears it.
ALTER TABLE nudge_engine.sync_state ADD COLUMN error text;
