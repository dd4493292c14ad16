//! The statements both stores run, and the one `Store` implementation they
//! share. PostgreSQL and SQLite accept the same `$n` placeholders and the same
//! SQL here; the only difference is how `rotate` locks the session row, which
//! each store gives as `BEGIN_ROTATION` and `LOCK_SESSION`.

pub const SELECT_ONE: &str = "SELECT 1";

pub const INSERT_USER: &str = "INSERT INTO users (id, email, password_hash, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $4) RETURNING id, email, created_at";
pub const SELECT_CREDENTIALS: &str = "SELECT id, password_hash FROM users WHERE email = $1";
pub const SELECT_USER: &str = "SELECT id, email, created_at FROM users WHERE id = $1";
/// The user of a live session: not revoked, not expired at `$3`.
pub const SELECT_LIVE_SESSION_USER: &str = "SELECT u.id, u.email, u.created_at \
     FROM sessions s JOIN users u ON u.id = s.user_id \
     WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3";
pub const UPDATE_PASSWORD_HASH: &str =
    "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1";

pub const INSERT_SESSION: &str = "INSERT INTO sessions (id, user_id, counter, created_at, last_rotated_at, \
     expires_at, absolute_expires_at, revoked_at, revoked_reason, user_agent, ip) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
pub const SELECT_SESSION: &str = "SELECT id, user_id, counter, created_at, last_rotated_at, expires_at, \
     absolute_expires_at, revoked_at, revoked_reason, user_agent, ip FROM sessions WHERE id = $1";
pub const ROTATE_SESSION: &str =
    "UPDATE sessions SET counter = $2, last_rotated_at = $3, expires_at = $4 WHERE id = $1";
/// A rotation decided on an unlocked read, applied only if the row is still
/// the one the decision saw: same counter (`$5`), not revoked. Nothing else
/// that `decide` reads changes without the counter moving (rotation sets
/// `last_rotated_at` and `expires_at` with it; counters only grow), so one
/// row updated means the decision holds, and none means someone else moved
/// first and the caller must decide again under the lock.
pub const ROTATE_SESSION_IF_CURRENT: &str = "UPDATE sessions SET counter = $2, last_rotated_at = $3, expires_at = $4 \
     WHERE id = $1 AND counter = $5 AND revoked_at IS NULL";
pub const REVOKE_SESSION: &str = "UPDATE sessions SET revoked_at = $3, revoked_reason = $4 \
     WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $3";
/// `$4` is the session to keep, or the nil UUID to keep none.
pub const REVOKE_USER_SESSIONS: &str = "UPDATE sessions SET revoked_at = $2, revoked_reason = $3 \
     WHERE user_id = $1 AND revoked_at IS NULL AND id <> $4";
pub const SELECT_ACTIVE_SESSIONS: &str = "SELECT id, user_id, counter, created_at, last_rotated_at, expires_at, \
     absolute_expires_at, revoked_at, revoked_reason, user_agent, ip FROM sessions \
     WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC, id";
pub const PURGE_SESSIONS: &str =
    "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at < $1 LIMIT $2)";
pub const PURGE_AUDIT: &str = "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE created_at < $1 LIMIT $2)";

pub const SELECT_THROTTLE: &str =
    "SELECT blocked_until FROM login_throttle WHERE (key = $1 OR key = $2) AND blocked_until > $3";
/// One more failure for the key, or the first again when the previous one was
/// before `$3` (a quiet window forgets); returns the count.
pub const COUNT_FAILURE: &str = "INSERT INTO login_throttle (key, last_failure_at, failures) VALUES ($1, $2, 1) \
     ON CONFLICT (key) DO UPDATE SET \
     failures = CASE WHEN login_throttle.last_failure_at <= $3 THEN 1 ELSE login_throttle.failures + 1 END, \
     last_failure_at = $2 \
     RETURNING failures";
pub const BLOCK_KEY: &str = "UPDATE login_throttle SET blocked_until = $2 WHERE key = $1";
pub const CLEAR_KEY: &str = "DELETE FROM login_throttle WHERE key = $1";
pub const PURGE_THROTTLE: &str = "DELETE FROM login_throttle WHERE key IN (SELECT key FROM login_throttle \
     WHERE last_failure_at < $1 AND (blocked_until IS NULL OR blocked_until < $2) LIMIT $3)";

pub const INSERT_CLIENT: &str = "INSERT INTO oauth_clients (id, name, secret_hash, scopes, created_at) \
     VALUES ($1, $2, $3, $4, $5)";
pub const SELECT_CLIENT: &str =
    "SELECT id, name, secret_hash, scopes, created_at FROM oauth_clients WHERE id = $1";
pub const SELECT_CLIENTS: &str =
    "SELECT id, name, secret_hash, scopes, created_at FROM oauth_clients ORDER BY created_at, id";
pub const DELETE_CLIENT: &str = "DELETE FROM oauth_clients WHERE id = $1";

/// Sessions revoked after the cursor `($1, $2)` (time, then id), oldest first;
/// served by the partial index on `revoked_at`.
pub const SELECT_REVOCATIONS: &str = "SELECT id, user_id, revoked_at FROM sessions \
     WHERE revoked_at IS NOT NULL AND (revoked_at > $1 OR (revoked_at = $1 AND id > $2)) \
     ORDER BY revoked_at, id LIMIT $3";

pub const INSERT_AUDIT: &str = "INSERT INTO audit_events (user_id, kind, session_id, ip, user_agent, detail, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub const SELECT_AUDIT: &str = "SELECT kind, session_id, ip, user_agent, detail, created_at FROM audit_events \
     WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2";

/// Implements `Store` for a struct with a `pool: sqlx::Pool<$db>` field and a
/// `write_turn()` method that every write awaits first (a guard held until the
/// write is done, or nothing), whose module defines `BEGIN_ROTATION`,
/// `LOCK_SESSION` and `LOCK_USER`.
macro_rules! impl_store {
    ($store:ty, $db:ty, $migrator:expr) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            async fn migrate(&self) -> Result<(), StoreError> {
                $migrator.run(&self.pool).await?;
                Ok(())
            }

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query(sql::SELECT_ONE).execute(&self.pool).await?;
                Ok(())
            }

            fn pool_stats(&self) -> (u32, usize) {
                (self.pool.size(), self.pool.num_idle())
            }

            #[tracing::instrument(skip_all)]
            async fn create_user(&self, user: NewUser<'_>) -> Result<User, StoreError> {
                let _writing = self.write_turn().await;
                Ok(sqlx::query_as::<_, User>(sql::INSERT_USER)
                    .bind(user.id)
                    .bind(user.email)
                    .bind(user.password_hash)
                    .bind(user.now)
                    .fetch_one(&self.pool)
                    .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn find_credentials(
                &self,
                email: &str,
            ) -> Result<Option<Credentials>, StoreError> {
                Ok(sqlx::query_as::<_, Credentials>(sql::SELECT_CREDENTIALS)
                    .bind(email)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            #[tracing::instrument(skip_all, fields(user = %id))]
            async fn find_user(&self, id: Uuid) -> Result<Option<User>, StoreError> {
                Ok(sqlx::query_as::<_, User>(sql::SELECT_USER)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            #[tracing::instrument(skip_all, fields(session = %session))]
            async fn find_live_session_user(
                &self,
                session: Uuid,
                user: Uuid,
                now: DateTime<Utc>,
            ) -> Result<Option<User>, StoreError> {
                Ok(sqlx::query_as::<_, User>(sql::SELECT_LIVE_SESSION_USER)
                    .bind(session)
                    .bind(user)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            #[tracing::instrument(skip_all, fields(user = %id))]
            async fn update_password_hash(
                &self,
                id: Uuid,
                hash: &str,
                now: DateTime<Utc>,
            ) -> Result<(), StoreError> {
                let _writing = self.write_turn().await;
                sqlx::query(sql::UPDATE_PASSWORD_HASH)
                    .bind(id)
                    .bind(hash)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            #[tracing::instrument(skip_all, fields(session = %s.id))]
            async fn create_session(&self, s: &Session) -> Result<(), StoreError> {
                let _writing = self.write_turn().await;
                sqlx::query(sql::INSERT_SESSION)
                    .bind(s.id)
                    .bind(s.user_id)
                    .bind(s.counter)
                    .bind(s.created_at)
                    .bind(s.last_rotated_at)
                    .bind(s.expires_at)
                    .bind(s.absolute_expires_at)
                    .bind(s.revoked_at)
                    .bind(s.revoked_reason.as_deref())
                    .bind(s.user_agent.as_deref())
                    .bind(s.ip.as_deref())
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            #[tracing::instrument(skip_all, fields(session = %id))]
            async fn find_session(&self, id: Uuid) -> Result<Option<Session>, StoreError> {
                Ok(sqlx::query_as::<_, Session>(sql::SELECT_SESSION)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            #[tracing::instrument(skip_all, fields(session = %id, presented))]
            async fn rotate(
                &self,
                id: Uuid,
                presented: i64,
                now: DateTime<Utc>,
                policy: &RotationPolicy,
                meta: &RequestMeta,
            ) -> Result<Rotation, StoreError> {
                // The common case in two statements and no transaction: read
                // the row unlocked, let `decide` rule, and apply a rotation as
                // a compare-and-set on the counter. Anything else (grace, reuse,
                // refusal) or a lost race goes on to the locked transaction
                // below, where `decide` rules again on the row as it is then.
                // One connection throughout, so going on does not queue for
                // the pool again; the turn to write (SQLite) is taken first,
                // as every write does, so no writer holds a connection while
                // it waits for its turn.
                let writing = self.write_turn().await;
                let mut conn = self.pool.acquire().await?;
                if let Some(mut session) = sqlx::query_as::<_, Session>(sql::SELECT_SESSION)
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?
                    && let Decision::Rotate {
                        counter,
                        expires_at,
                    } = decide(&session, presented, now, policy)
                {
                    let done = sqlx::query(sql::ROTATE_SESSION_IF_CURRENT)
                        .bind(id)
                        .bind(counter)
                        .bind(now)
                        .bind(expires_at)
                        .bind(session.counter)
                        .execute(&mut *conn)
                        .await?;
                    if done.rows_affected() == 1 {
                        session.counter = counter;
                        session.last_rotated_at = now;
                        session.expires_at = expires_at;
                        return Ok(Rotation::Rotated(session));
                    }
                }
                let mut tx = sqlx::Connection::begin_with(&mut *conn, BEGIN_ROTATION).await?;
                let Some(mut session) = sqlx::query_as::<_, Session>(LOCK_SESSION)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
                else {
                    return Ok(Rotation::Refused(Decision::Unknown));
                };
                let outcome = match decide(&session, presented, now, policy) {
                    Decision::Rotate {
                        counter,
                        expires_at,
                    } => {
                        sqlx::query(sql::ROTATE_SESSION)
                            .bind(id)
                            .bind(counter)
                            .bind(now)
                            .bind(expires_at)
                            .execute(&mut *tx)
                            .await?;
                        session.counter = counter;
                        session.last_rotated_at = now;
                        session.expires_at = expires_at;
                        Rotation::Rotated(session)
                    }
                    Decision::Grace => Rotation::Grace(session),
                    Decision::Reuse => {
                        // Release the session's row lock before taking the user's:
                        // every multi-session change locks the user row first, so
                        // two reuse detections (or a reuse and a logout-everywhere)
                        // on one user queue instead of deadlocking. Counters only
                        // grow, so the verdict stays true once the lock is gone.
                        tx.rollback().await?;
                        drop(conn);
                        drop(writing);
                        let event = AuditEvent {
                            user_id: Some(session.user_id),
                            kind: AuditKind::RefreshReuseDetected,
                            session_id: Some(id),
                            meta: meta.clone(),
                            detail: Some(format!(
                                "token {presented} presented, current {}",
                                session.counter
                            )),
                            at: now,
                        };
                        let revoked = self
                            .revoke_user_sessions(
                                session.user_id,
                                None,
                                reasons::REUSE_DETECTED,
                                now,
                                Some(&event),
                            )
                            .await?;
                        return Ok(Rotation::Reused {
                            user_id: session.user_id,
                            session_id: id,
                            revoked,
                        });
                    }
                    refused => Rotation::Refused(refused),
                };
                tx.commit().await?;
                Ok(outcome)
            }

            #[tracing::instrument(skip_all, fields(session = %id, user = %user))]
            async fn revoke_session(
                &self,
                id: Uuid,
                user: Uuid,
                reason: &str,
                now: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                let _writing = self.write_turn().await;
                let done = sqlx::query(sql::REVOKE_SESSION)
                    .bind(id)
                    .bind(user)
                    .bind(now)
                    .bind(reason)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            #[tracing::instrument(skip_all, fields(user = %user))]
            async fn revoke_user_sessions(
                &self,
                user: Uuid,
                keep: Option<Uuid>,
                reason: &str,
                now: DateTime<Utc>,
                event: Option<&AuditEvent>,
            ) -> Result<u64, StoreError> {
                let _writing = self.write_turn().await;
                let mut tx = self.pool.begin_with(BEGIN_ROTATION).await?;
                sqlx::query(LOCK_USER)
                    .bind(user)
                    .fetch_optional(&mut *tx)
                    .await?;
                let revoked = sqlx::query(sql::REVOKE_USER_SESSIONS)
                    .bind(user)
                    .bind(now)
                    .bind(reason)
                    .bind(keep.unwrap_or(Uuid::nil()))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if let Some(event) = event {
                    insert_audit(event).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(revoked)
            }

            #[tracing::instrument(skip_all, fields(user = %user))]
            async fn list_active_sessions(
                &self,
                user: Uuid,
                now: DateTime<Utc>,
            ) -> Result<Vec<Session>, StoreError> {
                Ok(sqlx::query_as::<_, Session>(sql::SELECT_ACTIVE_SESSIONS)
                    .bind(user)
                    .bind(now)
                    .fetch_all(&self.pool)
                    .await?)
            }

            #[tracing::instrument(skip_all, fields(kind = event.kind.as_str()))]
            async fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
                let _writing = self.write_turn().await;
                insert_audit(event).execute(&self.pool).await?;
                Ok(())
            }

            #[tracing::instrument(skip_all, fields(user = %user))]
            async fn list_audit(
                &self,
                user: Uuid,
                limit: i64,
            ) -> Result<Vec<AuditRecord>, StoreError> {
                Ok(sqlx::query_as::<_, AuditRecord>(sql::SELECT_AUDIT)
                    .bind(user)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn purge_sessions(
                &self,
                expired_before: DateTime<Utc>,
                batch: i64,
            ) -> Result<u64, StoreError> {
                let _writing = self.write_turn().await;
                let done = sqlx::query(sql::PURGE_SESSIONS)
                    .bind(expired_before)
                    .bind(batch)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }

            #[tracing::instrument(skip_all)]
            async fn throttle_blocked_until(
                &self,
                keys: [&str; 2],
                now: DateTime<Utc>,
            ) -> Result<Option<DateTime<Utc>>, StoreError> {
                let rows: Vec<(DateTime<Utc>,)> = sqlx::query_as(sql::SELECT_THROTTLE)
                    .bind(keys[0])
                    .bind(keys[1])
                    .bind(now)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map(|(t,)| t).max())
            }

            #[tracing::instrument(skip_all)]
            async fn count_failure(
                &self,
                key: &str,
                now: DateTime<Utc>,
                quiet_since: DateTime<Utc>,
            ) -> Result<i64, StoreError> {
                let _writing = self.write_turn().await;
                let (failures,): (i64,) = sqlx::query_as(sql::COUNT_FAILURE)
                    .bind(key)
                    .bind(now)
                    .bind(quiet_since)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(failures)
            }

            #[tracing::instrument(skip_all)]
            async fn block_key(&self, key: &str, until: DateTime<Utc>) -> Result<(), StoreError> {
                let _writing = self.write_turn().await;
                sqlx::query(sql::BLOCK_KEY)
                    .bind(key)
                    .bind(until)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn clear_key(&self, key: &str) -> Result<(), StoreError> {
                let _writing = self.write_turn().await;
                sqlx::query(sql::CLEAR_KEY)
                    .bind(key)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn purge_throttle(
                &self,
                quiet_since: DateTime<Utc>,
                now: DateTime<Utc>,
                batch: i64,
            ) -> Result<u64, StoreError> {
                let _writing = self.write_turn().await;
                let done = sqlx::query(sql::PURGE_THROTTLE)
                    .bind(quiet_since)
                    .bind(now)
                    .bind(batch)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }

            #[tracing::instrument(skip_all, fields(client = %client.id))]
            async fn create_client(&self, client: &Client) -> Result<(), StoreError> {
                let _writing = self.write_turn().await;
                sqlx::query(sql::INSERT_CLIENT)
                    .bind(&client.id)
                    .bind(&client.name)
                    .bind(&client.secret_hash)
                    .bind(&client.scopes)
                    .bind(client.created_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn find_client(&self, id: &str) -> Result<Option<Client>, StoreError> {
                Ok(sqlx::query_as::<_, Client>(sql::SELECT_CLIENT)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
                Ok(sqlx::query_as::<_, Client>(sql::SELECT_CLIENTS)
                    .fetch_all(&self.pool)
                    .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn delete_client(&self, id: &str) -> Result<bool, StoreError> {
                let _writing = self.write_turn().await;
                let done = sqlx::query(sql::DELETE_CLIENT)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            #[tracing::instrument(skip_all)]
            async fn list_revocations(
                &self,
                after: (DateTime<Utc>, Uuid),
                limit: i64,
            ) -> Result<Vec<Revocation>, StoreError> {
                Ok(sqlx::query_as::<_, Revocation>(sql::SELECT_REVOCATIONS)
                    .bind(after.0)
                    .bind(after.1)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn purge_audit(
                &self,
                before: DateTime<Utc>,
                batch: i64,
            ) -> Result<u64, StoreError> {
                let _writing = self.write_turn().await;
                let done = sqlx::query(sql::PURGE_AUDIT)
                    .bind(before)
                    .bind(batch)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }
        }

        fn insert_audit(
            event: &AuditEvent,
        ) -> sqlx::query::Query<'_, $db, <$db as sqlx::Database>::Arguments> {
            sqlx::query(sql::INSERT_AUDIT)
                .bind(event.user_id)
                .bind(event.kind.as_str())
                .bind(event.session_id)
                .bind(event.meta.ip.as_deref())
                .bind(event.meta.user_agent.as_deref())
                .bind(event.detail.as_deref())
                .bind(event.at)
        }
    };
}

pub(crate) use impl_store;
