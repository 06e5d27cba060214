-- A scheduled feature's runs come in as source 'schedule' (they were
-- 'sync', which named nothing the user runs: `nudge sync` writes timelines,
-- not the inbox). Their keys start with 'schedule:'; the rename keeps
-- (source, source_key) unique, so a window whose run resumes after the
-- upgrade still stores none of its rows twice.
UPDATE nudge_engine.inbox SET source = 'schedule'
 WHERE source = 'sync' AND source_key LIKE 'schedule:%';
