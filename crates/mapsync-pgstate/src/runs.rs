//! The run journal: runs per profile, their status, counts and reports,
//! whether each read its source in full, and its pruning.

use sqlx::Row;
use time::OffsetDateTime;

use crate::{parse_date, rfc3339, PgStateError, PgStore, Run, RunId, RunStatus};

/// The status a journal row names (unknown names read as running, as in
/// the SQLite store).
fn parse_status(s: &str) -> RunStatus {
    match s {
        "ok" => RunStatus::Ok,
        "partial" => RunStatus::Partial,
        "failed" => RunStatus::Failed,
        _ => RunStatus::Running,
    }
}

impl PgStore {
    /// Starts a run in the journal.
    pub async fn begin_run(
        &self,
        profile: &str,
        channel: &str,
        started_at: OffsetDateTime,
    ) -> Result<RunId, PgStateError> {
        let started = rfc3339(started_at)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO runs (profile, channel, started_at, status) VALUES ($1, $2, $3, $4) \
             RETURNING id",
        )
        .bind(profile)
        .bind(channel)
        .bind(started)
        .bind(RunStatus::Running.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(self.err("starting a run"))?;
        Ok(RunId(id))
    }

    /// Ends a run: its status and summary (the report's counts).
    pub async fn finish_run(
        &self,
        run: RunId,
        finished_at: OffsetDateTime,
        status: RunStatus,
        summary: &serde_json::Value,
    ) -> Result<(), PgStateError> {
        let finished = rfc3339(finished_at)?;
        sqlx::query("UPDATE runs SET finished_at = $2, status = $3, summary = $4 WHERE id = $1")
            .bind(run.0)
            .bind(finished)
            .bind(status.as_str())
            .bind(summary.to_string())
            .execute(&self.pool)
            .await
            .map_err(self.err("finishing a run"))?;
        Ok(())
    }

    /// Forgets the runs of a profile beyond its newest `keep`, except the
    /// newest run that ended ok or partial and the newest such full read
    /// (incremental reads are decided from them). Returns the runs removed.
    pub async fn prune_runs(&self, profile: &str, keep: usize) -> Result<usize, PgStateError> {
        let offset = i64::try_from(keep.max(1) - 1).unwrap_or(i64::MAX);
        let done = sqlx::query(
            "DELETE FROM runs WHERE profile = $1 \
             AND id < (SELECT id FROM runs WHERE profile = $1 ORDER BY id DESC LIMIT 1 OFFSET $2) \
             AND id IS DISTINCT FROM (SELECT max(id) FROM runs WHERE profile = $1 AND status IN ('ok', 'partial')) \
             AND id IS DISTINCT FROM (SELECT max(id) FROM runs WHERE profile = $1 AND status IN ('ok', 'partial') AND full_read)",
        )
        .bind(profile)
        .bind(offset)
        .execute(&self.pool)
        .await
        .map_err(self.err("pruning the run journal"))?;
        Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
    }

    /// The id of the newest run of a profile, if any.
    pub async fn last_run_id(&self, profile: &str) -> Result<Option<RunId>, PgStateError> {
        let id: Option<i64> = sqlx::query_scalar("SELECT max(id) FROM runs WHERE profile = $1")
            .bind(profile)
            .fetch_one(&self.pool)
            .await
            .map_err(self.err("reading runs"))?;
        Ok(id.map(RunId))
    }

    /// The id and start of the newest run of a profile, if any.
    pub async fn last_run_started(
        &self,
        profile: &str,
    ) -> Result<Option<(RunId, OffsetDateTime)>, PgStateError> {
        let err = self.err("reading runs");
        let row = sqlx::query(
            "SELECT id, started_at FROM runs WHERE profile = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(profile)
        .fetch_optional(&self.pool)
        .await
        .map_err(&err)?;
        match row {
            Some(row) => {
                let id: i64 = row.try_get(0).map_err(&err)?;
                let started: &str = row.try_get(1).map_err(&err)?;
                Ok(Some((
                    RunId(id),
                    parse_date(started).unwrap_or(OffsetDateTime::UNIX_EPOCH),
                )))
            }
            None => Ok(None),
        }
    }

    /// Keeps the sync manager's view of a run (requests, failed items, a
    /// fatal error) with it.
    pub async fn set_run_report(
        &self,
        run: RunId,
        report: &serde_json::Value,
    ) -> Result<(), PgStateError> {
        sqlx::query("UPDATE runs SET report = $2 WHERE id = $1")
            .bind(run.0)
            .bind(report.to_string())
            .execute(&self.pool)
            .await
            .map_err(self.err("recording a run report"))?;
        Ok(())
    }

    /// Journals a run that stopped before it could journal itself: failed,
    /// with its report (one transaction).
    pub async fn record_failed_run(
        &self,
        profile: &str,
        channel: &str,
        started_at: OffsetDateTime,
        finished_at: OffsetDateTime,
        report: &serde_json::Value,
    ) -> Result<RunId, PgStateError> {
        let started = rfc3339(started_at)?;
        let finished = rfc3339(finished_at)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO runs (profile, channel, started_at, finished_at, status, summary, report) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(profile)
        .bind(channel)
        .bind(started)
        .bind(finished)
        .bind(RunStatus::Failed.as_str())
        .bind(serde_json::json!({}).to_string())
        .bind(report.to_string())
        .fetch_one(&self.pool)
        .await
        .map_err(self.err("journaling a failed run"))?;
        Ok(RunId(id))
    }

    /// The most recent runs of a profile, newest first.
    pub async fn recent_runs(&self, profile: &str, limit: u32) -> Result<Vec<Run>, PgStateError> {
        let err = self.err("reading runs");
        let rows = sqlx::query(
            "SELECT id, profile, channel, started_at, finished_at, status, summary, report \
             FROM runs WHERE profile = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(profile)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(&err)?;
        rows.iter()
            .map(|r| {
                let started: &str = r.try_get(3)?;
                let finished: Option<&str> = r.try_get(4)?;
                let status: &str = r.try_get(5)?;
                let summary: Option<&str> = r.try_get(6)?;
                let report: Option<&str> = r.try_get(7)?;
                Ok(Run {
                    id: RunId(r.try_get(0)?),
                    profile: r.try_get(1)?,
                    channel: r.try_get(2)?,
                    started_at: parse_date(started).unwrap_or(OffsetDateTime::UNIX_EPOCH),
                    finished_at: finished.and_then(parse_date),
                    status: parse_status(status),
                    summary: summary.and_then(|s| serde_json::from_str(s).ok()),
                    report: report.and_then(|s| serde_json::from_str(s).ok()),
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(&err)
    }

    /// Marks whether `run` read its source in full.
    pub async fn set_full_read(&self, run: RunId, full: bool) -> Result<(), PgStateError> {
        sqlx::query("UPDATE runs SET full_read = $2 WHERE id = $1")
            .bind(run.0)
            .bind(full)
            .execute(&self.pool)
            .await
            .map_err(self.err("journaling a run"))?;
        Ok(())
    }

    /// When the last run of `profile` that finished (ok or partial)
    /// started, and when the last such run that read its source in full
    /// started.
    pub async fn read_history(
        &self,
        profile: &str,
    ) -> Result<(Option<OffsetDateTime>, Option<OffsetDateTime>), PgStateError> {
        let err = self.err("reading runs");
        let row = sqlx::query(
            "SELECT \
             (SELECT started_at FROM runs WHERE profile = $1 AND status IN ('ok', 'partial') \
              ORDER BY id DESC LIMIT 1), \
             (SELECT started_at FROM runs WHERE profile = $1 AND status IN ('ok', 'partial') \
              AND full_read ORDER BY id DESC LIMIT 1)",
        )
        .bind(profile)
        .fetch_one(&self.pool)
        .await
        .map_err(&err)?;
        let last: Option<&str> = row.try_get(0).map_err(&err)?;
        let full: Option<&str> = row.try_get(1).map_err(&err)?;
        Ok((last.and_then(parse_date), full.and_then(parse_date)))
    }
}
