//! The SQL both backends share. The statements are portable (`$n` placeholders work in both
//! SQLite and PostgreSQL); the macro stamps one `Store` implementation per database type so
//! the two stay identical without a runtime `if sqlite` anywhere.

/// Users are inserted in chunks below SQLite's bound-parameter limit.
pub(crate) const USER_CHUNK: usize = 1000;

/// Seconds between two sweeps of one table's expired rows, per process.
pub(crate) const SWEEP_INTERVAL: i64 = 30;

/// Expired sessions removed by one statement of a sweep.
pub(crate) const SWEEP_BATCH: usize = 500;

/// The tables of short-lived rows, swept by `expires_at`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Swept {
    AuthSession,
    AuthCode,
    RevokedToken,
    DeviceCode,
    CibaRequest,
}

impl Swept {
    /// The sweep's statement, and how long past `expires_at` a row is kept (codes an hour, to
    /// recognise a replay; revoked tokens a minute beyond the token's own expiry).
    pub(crate) fn statement(self) -> (&'static str, i64) {
        match self {
            Swept::AuthSession => ("DELETE FROM auth_session WHERE expires_at < $1", 0),
            Swept::AuthCode => ("DELETE FROM auth_code WHERE expires_at < $1", 3600),
            Swept::RevokedToken => ("DELETE FROM revoked_token WHERE expires_at < $1", 60),
            Swept::DeviceCode => ("DELETE FROM device_code WHERE expires_at < $1", 3600),
            Swept::CibaRequest => ("DELETE FROM ciba_request WHERE expires_at < $1", 3600),
        }
    }
}

/// When each table of short-lived rows was last swept. A sweep ran on every insert: a
/// statement (and a write, on SQLite a write lock) more per login step. Now each table is swept
/// at most every [`SWEEP_INTERVAL`] seconds per process. Nothing depends on expired rows being
/// gone: every read checks `expires_at` (or the row's own expiry, as an assertion's `exp`), and a
/// row kept a little longer only keeps a replay detectable longer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sweeps(std::sync::Arc<[std::sync::atomic::AtomicI64; 5]>);

impl Sweeps {
    /// Whether `table` is due for a sweep at `now`; if so, the next one is due an interval
    /// later (one caller among concurrent ones wins).
    pub(crate) fn due(&self, table: Swept, now: i64) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let next = &self.0[table as usize];
        let at = next.load(Relaxed);
        now >= at
            && next
                .compare_exchange(at, now + SWEEP_INTERVAL, Relaxed, Relaxed)
                .is_ok()
    }
}

/// How long a write waits for its turn at the [`WriteGate`].
pub(crate) const GATE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serializes this process's writes where the database has a single writer. SQLite lets one
/// connection write at a time; the others got `SQLITE_BUSY` and waited in its busy handler,
/// which sleeps (1, 2, 5, ... 100 ms) and retries: under concurrent logins that put hundreds
/// of milliseconds on the slowest requests and left the core idle. Queued here instead, writers
/// take turns in arrival order and nobody sleeps. Reads never wait (WAL). PostgreSQL's writers
/// run concurrently, so its gate is open.
#[derive(Debug, Clone, Default)]
pub(crate) struct WriteGate(Option<std::sync::Arc<Gate>>);

/// The single writer's lock and how long writers waited for it.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    lock: tokio::sync::Mutex<()>,
    waits: std::sync::atomic::AtomicU64,
    waited_nanos: std::sync::atomic::AtomicU64,
    buckets: [std::sync::atomic::AtomicU64; crate::store::WAIT_BUCKETS.len()],
}

impl WriteGate {
    /// A gate that lets one writer through at a time.
    pub(crate) fn single_writer() -> Self {
        WriteGate(Some(std::sync::Arc::default()))
    }
    /// Waits for this caller's turn (at once if the gate is open); the turn lasts as long as the
    /// guard. After [`GATE_TIMEOUT`] the write fails, as SQLite's own `busy_timeout` did.
    pub(crate) async fn enter(
        &self,
    ) -> Result<Option<tokio::sync::MutexGuard<'_, ()>>, crate::store::StoreError> {
        use std::sync::atomic::Ordering::Relaxed;
        match &self.0 {
            Some(g) => {
                let start = std::time::Instant::now();
                let turn = tokio::time::timeout(GATE_TIMEOUT, g.lock.lock())
                    .await
                    .map_err(|_| crate::store::StoreError::Busy)?;
                let waited = start.elapsed();
                g.waits.fetch_add(1, Relaxed);
                g.waited_nanos.fetch_add(
                    u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX),
                    Relaxed,
                );
                let secs = waited.as_secs_f64();
                if let Some(i) = crate::store::WAIT_BUCKETS.iter().position(|b| secs <= *b) {
                    if let Some(b) = g.buckets.get(i) {
                        b.fetch_add(1, Relaxed);
                    }
                }
                Ok(Some(turn))
            }
            None => Ok(None),
        }
    }
    /// How long writers waited for their turn, where there is a gate.
    pub(crate) fn waits(&self) -> Option<crate::store::WriteWaits> {
        use std::sync::atomic::Ordering::Relaxed;
        self.0.as_ref().map(|g| crate::store::WriteWaits {
            count: g.waits.load(Relaxed),
            seconds: g.waited_nanos.load(Relaxed) as f64 / 1e9,
            buckets: std::array::from_fn(|i| g.buckets.get(i).map_or(0, |b| b.load(Relaxed))),
        })
    }
}

/// A cache whose entries are valid for one generation: a write bumps the generation, and a
/// read stores what it saw only if no write happened since it began, so a read that raced a
/// write is never served.
#[derive(Clone)]
pub(crate) struct GenCache<K, V> {
    entries: moka::sync::Cache<K, (u64, V)>,
    generation: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<K, V> std::fmt::Debug for GenCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenCache")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl<K, V> GenCache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub(crate) fn new(capacity: u64) -> Self {
        GenCache {
            entries: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(super::sql::SESSION_CACHE_TTL)
                .build(),
            generation: std::sync::Arc::default(),
        }
    }
    /// The generation to pass to [`GenCache::insert`]: read it before reading the store.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        let (generation, value) = self.entries.get(key)?;
        (generation == self.generation()).then_some(value)
    }
    pub(crate) fn insert(&self, key: K, generation: u64, value: V) {
        if generation == self.generation() {
            self.entries.insert(key, (generation, value));
        }
    }
    pub(crate) fn invalidate(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.entries.invalidate_all();
    }
}

/// What a write changed, for the caches of every node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Changed {
    /// Users (and so cached user look-ups).
    Users,
    /// Sessions or a client's part in one.
    Sessions,
    /// A resource server (its settings or version: any change to its resources, scopes,
    /// policies).
    Authz,
}

impl Changed {
    /// The payload of the notification that carries it between nodes.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Changed::Users => "users",
            Changed::Sessions => "sessions",
            Changed::Authz => "authz",
        }
    }
}

/// This node's read caches of users, sessions and clients' parts in sessions, looked up on
/// every token request and refresh. On SQLite (one process owns the file) they are always on;
/// on PostgreSQL only while this node listens for the other nodes' changes (see
/// `postgres::listen_for_changes`): when it does not, nothing is served from them.
#[derive(Debug, Clone)]
pub(crate) struct NodeCaches {
    pub(crate) users: GenCache<(String, String), Option<crate::store::UserRow>>,
    pub(crate) sessions: GenCache<String, Option<crate::store::SessionRow>>,
    /// When a client's part in a session started, by (session, client); only parts that exist.
    pub(crate) client_starts: GenCache<(String, String), i64>,
    /// Resource servers' rows (settings and version) by (realm, client UUID), read on every
    /// UMA grant; the version is the compiled policy engine's cache key.
    pub(crate) resource_servers:
        GenCache<(String, String), Option<crate::store::ResourceServerRow>>,
    on: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl NodeCaches {
    /// Caches that are on from the start (SQLite).
    pub(crate) fn on() -> Self {
        let c = NodeCaches::off();
        c.switch(true);
        c
    }
    /// Caches that serve nothing until switched on (PostgreSQL, until it listens).
    pub(crate) fn off() -> Self {
        NodeCaches {
            users: GenCache::new(10_000),
            sessions: GenCache::new(10_000),
            client_starts: GenCache::new(10_000),
            resource_servers: GenCache::new(10_000),
            on: std::sync::Arc::default(),
        }
    }
    /// Turns the caches on or off; either way everything cached so far is dropped.
    pub(crate) fn switch(&self, on: bool) {
        self.drop_all();
        self.on.store(on, std::sync::atomic::Ordering::SeqCst);
        // A read that began before the switch is never stored after it.
        self.drop_all();
    }
    fn is_on(&self) -> bool {
        self.on.load(std::sync::atomic::Ordering::SeqCst)
    }
    /// Drops what `changed` makes stale.
    pub(crate) fn drop_changed(&self, changed: Changed) {
        match changed {
            Changed::Users => self.users.invalidate(),
            Changed::Sessions => {
                self.sessions.invalidate();
                self.client_starts.invalidate();
            }
            Changed::Authz => self.resource_servers.invalidate(),
        }
    }
    /// Drops everything.
    pub(crate) fn drop_all(&self) {
        self.drop_changed(Changed::Users);
        self.drop_changed(Changed::Sessions);
        self.drop_changed(Changed::Authz);
    }
}

/// The read caches of a store (see [`NodeCaches`]), invalidated by every write to what they
/// hold, on this node at once and on the others through [`ReadCache::announce`].
pub(crate) trait ReadCache {
    /// This node's caches.
    fn caches(&self) -> &NodeCaches;
    /// Tells the other nodes sharing the database what changed; returns once told (PostgreSQL).
    fn announce(&self, _changed: Changed) -> impl std::future::Future<Output = ()> + Send {
        async {}
    }
    /// The realms other nodes change, as they change (see [`crate::store::Store::realm_changes`]).
    fn realm_changes(&self) -> Option<tokio::sync::broadcast::Receiver<crate::store::RealmChange>> {
        None
    }
    /// The generation to cache a user read under: read before reading the store.
    fn user_generation(&self) -> u64 {
        self.caches().users.generation()
    }
    /// A cached user look-up (`Some(None)`: cached as absent).
    fn cached_user(&self, key: (String, String)) -> Option<Option<crate::store::UserRow>> {
        let c = self.caches();
        c.is_on().then(|| c.users.get(&key)).flatten()
    }
    /// Caches a user look-up made under `generation`.
    fn cache_user(
        &self,
        key: (String, String),
        generation: u64,
        row: Option<crate::store::UserRow>,
    ) {
        let c = self.caches();
        if c.is_on() {
            c.users.insert(key, generation, row);
        }
    }
    /// Drops every cached user (after a write to users), on every node.
    fn invalidate_users(&self) -> impl std::future::Future<Output = ()> + Send
    where
        Self: Sync,
    {
        async {
            self.caches().drop_changed(Changed::Users);
            self.announce(Changed::Users).await;
        }
    }
    /// A cached resource-server read (`Some(None)`: cached as absent), and the generation to
    /// cache a new read under (taken before reading the store).
    fn cached_resource_server(
        &self,
        key: &(String, String),
    ) -> (Option<Option<crate::store::ResourceServerRow>>, u64) {
        let c = self.caches();
        let generation = c.resource_servers.generation();
        (
            c.is_on().then(|| c.resource_servers.get(key)).flatten(),
            generation,
        )
    }
    /// Caches a resource-server read made under `generation`.
    fn cache_resource_server(
        &self,
        key: (String, String),
        generation: u64,
        row: Option<crate::store::ResourceServerRow>,
    ) {
        let c = self.caches();
        if c.is_on() {
            c.resource_servers.insert(key, generation, row);
        }
    }
    /// Drops every cached resource server (after a write to one), on every node.
    fn invalidate_authz(&self) -> impl std::future::Future<Output = ()> + Send
    where
        Self: Sync,
    {
        async {
            self.caches().drop_changed(Changed::Authz);
            self.announce(Changed::Authz).await;
        }
    }
    /// The generation to cache a session read under.
    fn session_generation(&self) -> u64 {
        self.caches().sessions.generation()
    }
    /// A cached session read.
    fn cached_session(&self, id: &str) -> Option<Option<crate::store::SessionRow>> {
        let c = self.caches();
        c.is_on().then(|| c.sessions.get(&id.to_string())).flatten()
    }
    /// Caches a session read made under `generation`.
    fn cache_session(&self, id: &str, generation: u64, row: Option<crate::store::SessionRow>) {
        let c = self.caches();
        if c.is_on() {
            c.sessions.insert(id.to_string(), generation, row);
        }
    }
    /// The generation to cache a client's start in a session under.
    fn client_start_generation(&self) -> u64 {
        self.caches().client_starts.generation()
    }
    /// When `client_id`'s part in session `session_id` started, if cached.
    fn cached_client_start(&self, session_id: &str, client_id: &str) -> Option<i64> {
        let c = self.caches();
        c.is_on()
            .then(|| {
                c.client_starts
                    .get(&(session_id.to_string(), client_id.to_string()))
            })
            .flatten()
    }
    /// Caches a client's start in a session, read under `generation`.
    fn cache_client_start(&self, session_id: &str, client_id: &str, generation: u64, started: i64) {
        let c = self.caches();
        if c.is_on() {
            c.client_starts.insert(
                (session_id.to_string(), client_id.to_string()),
                generation,
                started,
            );
        }
    }
    /// Drops every cached session and client start (after a write that ends or changes
    /// sessions or a client's part in one), on every node.
    fn invalidate_sessions(&self) -> impl std::future::Future<Output = ()> + Send
    where
        Self: Sync,
    {
        async {
            self.caches().drop_changed(Changed::Sessions);
            self.announce(Changed::Sessions).await;
        }
    }
}

/// Most writes one transaction of the write queue commits.
pub(crate) const MAX_BATCH: usize = 256;

/// A short write of the hot paths (refresh, login, code redemption) that the write queue can
/// commit together with others. Each is one or two statements whose outcome is a row count.
#[derive(Debug)]
pub(crate) enum Queued {
    /// `UPDATE user_session SET last_refresh`.
    TouchSession { id: String, now: i64 },
    /// A client's current refresh token in a session (update, else insert).
    SetRefreshToken {
        session_id: String,
        client_id: String,
        new_id: String,
        now: i64,
    },
    /// Refresh token rotation: 1 accepted, 0 rejected (see `use_refresh_token`).
    UseRefreshToken {
        session_id: String,
        client_id: String,
        presented: String,
        presented_iat: i64,
        max_reuse: i64,
        now: i64,
    },
    /// A pending login: new, or (`replace`) stored again under its id (inserted if gone).
    PutAuthSession {
        id: String,
        realm_id: String,
        data: String,
        expires_at: i64,
        replace: bool,
    },
    /// A pending login removed.
    DeleteAuthSession { id: String },
    /// A new authorization code.
    PutCode {
        code_hash: String,
        realm_id: String,
        data: String,
        expires_at: i64,
    },
    /// A code marked used: 1 for the first redemption.
    UseCode { code_hash: String },
    /// A code marked used and, by the first redemption only, the refresh token its tokens
    /// start made current: 1 for the first redemption.
    RedeemCode {
        code_hash: String,
        refresh: Option<crate::store::RefreshStart>,
    },
    /// The end of a browser login (see `FlowStore::finish_login`); boxed, as it is large.
    FinishLogin(Box<crate::store::LoginEnd>),
    /// A one-time value recorded: 1 when new.
    UseOnce { key: String, expires_at: i64 },
    /// Expired rows of a table removed (kept past `expires_at` as the table says).
    Sweep { table: Swept, now: i64 },
}

impl Queued {
    /// [`Queued::PutAuthSession`].
    pub(crate) fn auth_session(
        id: &str,
        realm_id: &str,
        data: &str,
        expires_at: i64,
        replace: bool,
    ) -> Self {
        Queued::PutAuthSession {
            id: id.to_string(),
            realm_id: realm_id.to_string(),
            data: data.to_string(),
            expires_at,
            replace,
        }
    }

    /// Whether the write is more than one statement that must hold together, so that it runs
    /// in a transaction of its own where it is not committed with a batch.
    pub(crate) fn atomic(&self) -> bool {
        match self {
            Queued::RedeemCode { refresh, .. } => refresh.is_some(),
            Queued::FinishLogin(_) => true,
            _ => false,
        }
    }
}

/// Runs the write queue's writer on a thread of its own, with a runtime of its own. On the
/// request runtime the writer and its commits waited behind every runnable request (a round of
/// 64 token signatures, about 40 ms, at each of their awaits), and a request whose write was
/// queued paid those rounds on top of its own. Here the commit runs as soon as the database
/// answers, and the waiting request is woken from outside the request runtime, which looks at
/// such wake-ups every few tasks (tokio's multi-thread scheduler tunes that interval to about a
/// millisecond of work). The thread ends when the queue's last sender is dropped.
pub(crate) fn on_writer_thread(
    writer: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let span = tracing::Span::current();
    std::thread::Builder::new()
        .name("portcullis-writer".into())
        .spawn(move || {
            let _entered = span.enter();
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(writer),
                Err(e) => tracing::error!(error = %e, "write queue: no runtime for the writer"),
            }
        })
        .map(drop)
}

/// A queued write and where its outcome goes.
pub(crate) type Job = (
    Queued,
    tokio::sync::oneshot::Sender<Result<u64, crate::store::StoreError>>,
);

/// Group commit for a single-writer database. A write syncs the file at its commit (SQLite
/// `synchronous=FULL`: about 2 ms here), and one writer at a time means those syncs queue:
/// 64 sessions refreshed in the same second waited for 64 syncs in a row. The queue's writer
/// task takes every write waiting when its turn comes and commits them in one transaction,
/// one sync for all; each caller still returns only after its write is committed (no
/// write-behind). A batch that fails is retried write by write, so one bad write fails alone.
/// PostgreSQL runs writes concurrently and commits them together itself: no queue there.
#[derive(Debug, Clone, Default)]
pub(crate) struct WriteQueue(Option<tokio::sync::mpsc::UnboundedSender<Job>>);

impl WriteQueue {
    /// The queue of a writer task.
    pub(crate) fn new(sender: tokio::sync::mpsc::UnboundedSender<Job>) -> Self {
        WriteQueue(Some(sender))
    }
    /// Whether writes go through the queue (SQLite) or are written at once (PostgreSQL).
    pub(crate) fn is_open(&self) -> bool {
        self.0.is_some()
    }
    /// Queues `w` and waits until it is committed; `None` when there is no queue (the caller
    /// writes at once).
    pub(crate) async fn write(&self, w: Queued) -> Option<Result<u64, crate::store::StoreError>> {
        let sender = self.0.as_ref()?;
        let (done, outcome) = tokio::sync::oneshot::channel();
        if sender.send((w, done)).is_err() {
            return Some(Err(crate::store::StoreError::Busy));
        }
        // As long as a writer waited at the gate before the queue: a write that is not
        // committed by then fails rather than hold the request for ever.
        match tokio::time::timeout(GATE_TIMEOUT, outcome).await {
            Ok(Ok(result)) => {
                // The writer noted the outage in its own task; the request's is this one.
                if matches!(result, Err(crate::store::StoreError::Full)) {
                    crate::store::outage::note(crate::store::outage::Outage::Full);
                }
                Some(result)
            }
            Ok(Err(_)) | Err(_) => Some(Err(crate::store::StoreError::Busy)),
        }
    }
}

/// How long a cached session row may be served (see [`RecentTouches`]).
pub(crate) const SESSION_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// Recent uses of sessions, as this node recorded them. A session's last use is written after
/// the request that used it has answered (the write would otherwise hold that request for a
/// commit and put it behind every other open connection), as Keycloak defers its
/// `lastSessionRefresh` updates; every read of a session on this node moves its last use to
/// the latest recorded here. So a use is seen at once, before its write is committed, and a
/// cached row read before the commit is never stale: a use is kept for twice as long as a
/// cached row lives ([`SESSION_CACHE_TTL`]), and the session cache is not dropped on each use.
/// A use lost with a crashed process only makes its session look idle earlier.
#[derive(Debug, Clone)]
pub(crate) struct RecentTouches(moka::sync::Cache<String, i64>);

impl Default for RecentTouches {
    fn default() -> Self {
        RecentTouches(
            moka::sync::Cache::builder()
                .max_capacity(200_000)
                .time_to_live(SESSION_CACHE_TTL * 2)
                .build(),
        )
    }
}

impl RecentTouches {
    /// Records a use of session `id` at `now` (the latest use wins).
    pub(crate) fn record(&self, id: &str, now: i64) {
        self.0
            .entry(id.to_string())
            .and_upsert_with(|at| at.map_or(now, |e| (*e.value()).max(now)));
    }
    /// `row` as this node knows it: its last use moved to a later recorded one.
    pub(crate) fn apply(&self, row: &mut crate::store::SessionRow) {
        if let Some(at) = self.0.get(&row.id) {
            row.last_refresh = row.last_refresh.max(at);
        }
    }
}

/// Reads a [`crate::store::DeviceCodeRow`], columns in [`DeviceCodeTuple`] order.
pub(crate) const DEVICE_CODE_SELECT: &str = "SELECT device_code_hash, realm_id, client_id, user_code, data, expires_at, poll_interval, status, session_id, user_id FROM device_code";

/// A `device_code` row as read.
pub(crate) type DeviceCodeTuple = (
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
);

/// Builds the row type from a read tuple.
pub(crate) fn device_code_row(t: DeviceCodeTuple) -> crate::store::DeviceCodeRow {
    let (
        device_code_hash,
        realm_id,
        client_id,
        user_code,
        data,
        expires_at,
        poll_interval,
        status,
        session_id,
        user_id,
    ) = t;
    crate::store::DeviceCodeRow {
        device_code_hash,
        realm_id,
        client_id,
        user_code,
        data,
        expires_at,
        poll_interval,
        status: crate::store::DeviceStatus::parse(&status),
        session_id,
        user_id,
    }
}

/// A `user_session` row as read: id, realm, user, offline, created, last refresh, notes.
pub(crate) type SessionTuple = (String, String, String, i64, i64, i64, String);

/// A session from its row.
pub(crate) fn session_row(t: SessionTuple) -> crate::store::SessionRow {
    let (id, realm_id, user_id, offline, created_at, last_refresh, data) = t;
    crate::store::SessionRow {
        id,
        realm_id,
        user_id,
        offline: offline != 0,
        created_at,
        last_refresh,
        data,
    }
}

/// An ended session from its row and its clients (sorted here).
pub(crate) fn ended(t: SessionTuple, mut clients: Vec<String>) -> crate::store::EndedSession {
    clients.sort();
    clients.dedup();
    crate::store::EndedSession {
        session: session_row(t),
        clients,
    }
}

macro_rules! impl_store {
    ($store:ident, $db:ty, $backend:literal) => {
        impl $store {
            /// Runs one queued write on a connection: its row count.
            async fn run_queued(conn: &mut <$db as sqlx::Database>::Connection, w: &$crate::store::sql::Queued) -> Result<u64, sqlx::Error> {
                use $crate::store::sql::Queued;
                let n = match w {
                    Queued::TouchSession { id, now } => {
                        sqlx::query("UPDATE user_session SET last_refresh = $1 WHERE id = $2 AND last_refresh < $1").bind(now).bind(id).execute(&mut *conn).await?.rows_affected()
                    }
                    Queued::SetRefreshToken { session_id, client_id, new_id, now } => {
                        Self::set_refresh_on(&mut *conn, session_id, client_id, new_id, *now).await?
                    }
                    Queued::UseRefreshToken { session_id, client_id, presented, presented_iat, max_reuse, now } => {
                        // Keycloak's `TokenManager.validateTokenReuse`: the current token may be
                        // used `max_reuse + 1` times; a token issued after the last change
                        // becomes current; an older one is stale. Each step is one conditional
                        // UPDATE, so concurrent nodes cannot both pass the limit.
                        let current = sqlx::query("UPDATE client_session SET refresh_use_count = refresh_use_count + 1, updated_at = $1 WHERE session_id = $2 AND client_id = $3 AND refresh_token_id = $4 AND refresh_use_count <= $5")
                            .bind(now).bind(session_id).bind(client_id).bind(presented).bind(max_reuse).execute(&mut *conn).await?;
                        if current.rows_affected() == 1 {
                            1
                        } else {
                            sqlx::query("UPDATE client_session SET refresh_token_id = $1, refresh_use_count = 1, updated_at = $2 WHERE session_id = $3 AND client_id = $4 AND (refresh_token_id IS NULL OR refresh_token_id <> $1) AND updated_at <= $5")
                                .bind(presented).bind(now).bind(session_id).bind(client_id).bind(presented_iat).execute(&mut *conn).await?.rows_affected()
                        }
                    }
                    Queued::PutAuthSession { id, realm_id, data, expires_at, replace } => {
                        // A flow's next step replaces its row under the same code: one statement.
                        let sql = if *replace {
                            "INSERT INTO auth_session (id, realm_id, data, expires_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET realm_id = excluded.realm_id, data = excluded.data, expires_at = excluded.expires_at"
                        } else {
                            "INSERT INTO auth_session (id, realm_id, data, expires_at) VALUES ($1, $2, $3, $4)"
                        };
                        sqlx::query(sql).bind(id).bind(realm_id).bind(data).bind(expires_at).execute(&mut *conn).await?.rows_affected()
                    }
                    Queued::DeleteAuthSession { id } => {
                        sqlx::query("DELETE FROM auth_session WHERE id = $1").bind(id).execute(&mut *conn).await?.rows_affected()
                    }
                    Queued::PutCode { code_hash, realm_id, data, expires_at } => {
                        sqlx::query("INSERT INTO auth_code (code_hash, realm_id, data, expires_at, used) VALUES ($1, $2, $3, $4, 0)")
                            .bind(code_hash).bind(realm_id).bind(data).bind(expires_at).execute(&mut *conn).await?.rows_affected()
                    }
                    // The conditional UPDATE decides which of two concurrent redemptions is first.
                    Queued::UseCode { code_hash } => {
                        sqlx::query("UPDATE auth_code SET used = 1 WHERE code_hash = $1 AND used = 0").bind(code_hash).execute(&mut *conn).await?.rows_affected()
                    }
                    Queued::RedeemCode { code_hash, refresh } => {
                        let first = sqlx::query("UPDATE auth_code SET used = 1 WHERE code_hash = $1 AND used = 0").bind(code_hash).execute(&mut *conn).await?.rows_affected();
                        if let (1, Some(r)) = (first, refresh) {
                            Self::set_refresh_on(&mut *conn, &r.session_id, &r.client_id, &r.refresh_token_id, r.now).await?;
                        }
                        first
                    }
                    Queued::FinishLogin(end) => {
                        if let Some(id) = &end.auth_session {
                            sqlx::query("DELETE FROM auth_session WHERE id = $1").bind(id).execute(&mut *conn).await?;
                        }
                        if let Some((s, client_id)) = &end.session {
                            Self::insert_session_on(&mut *conn, s, client_id, None).await?;
                        }
                        if let Some(c) = &end.code {
                            sqlx::query("INSERT INTO auth_code (code_hash, realm_id, data, expires_at, used) VALUES ($1, $2, $3, $4, 0)")
                                .bind(&c.code_hash).bind(&c.realm_id).bind(&c.data).bind(c.expires_at).execute(&mut *conn).await?;
                        }
                        1
                    }
                    Queued::UseOnce { key, expires_at } => {
                        sqlx::query("INSERT INTO revoked_token (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
                            .bind(key).bind(expires_at).execute(&mut *conn).await?.rows_affected()
                    }
                    Queued::Sweep { table, now } => {
                        let (sql, kept) = table.statement();
                        sqlx::query(sql).bind(now - kept).execute(&mut *conn).await?.rows_affected()
                    }
                };
                Ok(n)
            }

            /// A new session with its first client's part (`refresh_token_id` its current
            /// refresh token, if one is issued with it).
            async fn insert_session_on(conn: &mut <$db as sqlx::Database>::Connection, s: &$crate::store::SessionRow, client_id: &str, refresh_token_id: Option<&str>) -> Result<(), sqlx::Error> {
                sqlx::query("INSERT INTO user_session (id, realm_id, user_id, offline, created_at, last_refresh, data) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(&s.id).bind(&s.realm_id).bind(&s.user_id).bind(i64::from(s.offline)).bind(s.created_at).bind(s.last_refresh).bind(&s.data)
                    .execute(&mut *conn).await?;
                // No client yet (an impersonation): the session alone.
                if !client_id.is_empty() {
                    sqlx::query("INSERT INTO client_session (session_id, client_id, refresh_token_id, refresh_use_count, updated_at, started_at) VALUES ($1, $2, $3, 0, $4, $4)")
                        .bind(&s.id).bind(client_id).bind(refresh_token_id).bind(s.created_at)
                        .execute(&mut *conn).await?;
                }
                Ok(())
            }

            /// A client's current refresh token in a session: the client's part updated, else
            /// created (`SetRefreshToken`).
            async fn set_refresh_on(conn: &mut <$db as sqlx::Database>::Connection, session_id: &str, client_id: &str, new_id: &str, now: i64) -> Result<u64, sqlx::Error> {
                let done = sqlx::query("UPDATE client_session SET refresh_token_id = $1, refresh_use_count = 0, updated_at = $2 WHERE session_id = $3 AND client_id = $4")
                    .bind(new_id).bind(now).bind(session_id).bind(client_id).execute(&mut *conn).await?;
                if done.rows_affected() == 0 {
                    sqlx::query("INSERT INTO client_session (session_id, client_id, refresh_token_id, refresh_use_count, updated_at, started_at) VALUES ($1, $2, $3, 0, $4, $4)")
                        .bind(session_id).bind(client_id).bind(new_id).bind(now).execute(&mut *conn).await?;
                }
                Ok(1)
            }

            /// Writes `w`: through the write queue where there is one (committed together with
            /// the writes queued meanwhile), else at once (in a transaction of its own when it
            /// is several statements that hold together).
            async fn write(&self, w: $crate::store::sql::Queued) -> Result<u64, $crate::store::StoreError> {
                if self.queue.is_open() {
                    return self.queue.write(w).await.unwrap_or(Err($crate::store::StoreError::Busy));
                }
                if w.atomic() {
                    let _gate = self.gate.enter().await?;
                    let mut tx = self.pool.begin().await?;
                    let n = Self::run_queued(&mut *tx, &w).await?;
                    tx.commit().await?;
                    return Ok(n);
                }
                let mut conn = self.pool.acquire().await?;
                Ok(Self::run_queued(&mut *conn, &w).await?)
            }

            /// Queues a sweep of `table`'s expired rows if it is due (see [`Sweeps`]).
            async fn sweep_if_due(&self, table: $crate::store::sql::Swept) -> Result<(), $crate::store::StoreError> {
                let now = $crate::clock::now();
                if self.sweeps.due(table, now) {
                    self.write($crate::store::sql::Queued::Sweep { table, now }).await?;
                }
                Ok(())
            }

            /// Commits one batch of queued writes in one transaction at the writer's turn; a
            /// batch that fails is written again one by one, so one bad write fails alone.
            #[allow(dead_code)] // PostgreSQL has no queue
            async fn commit_batch(pool: sqlx::Pool<$db>, gate: $crate::store::sql::WriteGate, jobs: Vec<$crate::store::sql::Job>) {
                let Ok(_turn) = gate.enter().await else {
                    for (_, done) in jobs {
                        let _ = done.send(Err($crate::store::StoreError::Busy));
                    }
                    return;
                };
                let batch = async {
                    let mut tx = pool.begin().await?;
                    let mut counts = Vec::with_capacity(jobs.len());
                    for (w, _) in &jobs {
                        counts.push(Self::run_queued(&mut *tx, w).await?);
                    }
                    tx.commit().await?;
                    Ok::<_, sqlx::Error>(counts)
                }
                .await;
                match batch {
                    Ok(counts) => {
                        for ((_, done), n) in jobs.into_iter().zip(counts) {
                            let _ = done.send(Ok(n));
                        }
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, writes = jobs.len(), "batch failed; writing one by one");
                        for (w, done) in jobs {
                            // Each in a transaction of its own: a write of several statements
                            // holds together here too.
                            let one = async {
                                let mut tx = pool.begin().await?;
                                let n = Self::run_queued(&mut *tx, &w).await?;
                                tx.commit().await?;
                                Ok::<_, sqlx::Error>(n)
                            }
                            .await
                            .map_err($crate::store::StoreError::from);
                            let _ = done.send(one);
                        }
                    }
                }
            }

            /// Starts the writer task of a write queue (see [`WriteQueue`]) over `pool`, taking
            /// its turns at `gate` like every other writer.
            #[allow(dead_code)] // PostgreSQL has no queue
            pub(crate) fn spawn_writer(pool: sqlx::Pool<$db>, gate: $crate::store::sql::WriteGate) -> $crate::store::sql::WriteQueue {
                let (sender, mut jobs_in) = tokio::sync::mpsc::unbounded_channel::<$crate::store::sql::Job>();
                let writer = $crate::store::sql::on_writer_thread(async move {
                    while let Some(first) = jobs_in.recv().await {
                        let mut jobs = vec![first];
                        while jobs.len() < $crate::store::sql::MAX_BATCH {
                            match jobs_in.try_recv() {
                                Ok(j) => jobs.push(j),
                                Err(_) => break,
                            }
                        }
                        // Each batch in a task of its own: should one ever panic, its writes
                        // fail (their callers get `Busy`) and the queue goes on.
                        let batch = tokio::spawn(Self::commit_batch(pool.clone(), gate.clone(), jobs));
                        if let Err(e) = batch.await {
                            tracing::error!(error = %e, "write queue: a batch was lost");
                        }
                    }
                    tracing::debug!("write queue closed");
                });
                match writer {
                    Ok(()) => $crate::store::sql::WriteQueue::new(sender),
                    Err(e) => {
                        // Without its thread there is no queue: writes go straight to the database.
                        tracing::warn!(error = %e, "write queue: no thread for the writer; writing directly");
                        $crate::store::sql::WriteQueue::default()
                    }
                }
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            fn realm_changes(&self) -> Option<tokio::sync::broadcast::Receiver<$crate::store::RealmChange>> {
                $crate::store::sql::ReadCache::realm_changes(self)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn ping(&self) -> Result<(), $crate::store::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            fn pool_stats(&self) -> $crate::store::PoolStats {
                $crate::store::PoolStats {
                    open: self.pool.size(),
                    idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
                    max: self.pool.options().get_max_connections(),
                    write_waits: self.gate.waits(),
                }
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn session_counts(&self) -> Result<Vec<(String, i64)>, $crate::store::StoreError> {
                Ok(sqlx::query_as("SELECT realm_id, COUNT(*) FROM user_session WHERE offline = 0 GROUP BY realm_id ORDER BY realm_id")
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn clear_user_cache(&self) {
                $crate::store::sql::ReadCache::invalidate_users(self).await;
                $crate::store::sql::ReadCache::invalidate_sessions(self).await;
            }
        }

        $crate::store::realms::impl_realms!($store, $db);
        $crate::store::users::impl_users!($store, $db);
        $crate::store::sessions::impl_sessions!($store, $db);
        $crate::store::tokens::impl_tokens!($store, $db);
        $crate::store::registration::impl_registration!($store, $db);
        $crate::store::devices::impl_devices!($store, $db);
        $crate::store::ciba::impl_ciba!($store, $db);
        $crate::store::login_failures::impl_login_failures!($store, $db);
        $crate::store::organizations::impl_organizations!($store, $db);
        $crate::store::invitations::impl_invitations!($store, $db);
        $crate::store::events::impl_events!($store, $db);
        $crate::store::authz::impl_authz!($store, $db);
        $crate::store::permission_tickets::impl_permission_tickets!($store, $db);
        $crate::store::audit::impl_audit!($store, $db);
    };
}

pub(crate) use impl_store;

#[cfg(test)]
mod tests {
    use super::{
        Changed, GenCache, NodeCaches, RecentTouches, Sweeps, Swept, WriteGate, SWEEP_INTERVAL,
    };

    #[test]
    fn a_read_that_raced_a_write_is_never_served() {
        let c = GenCache::<String, u32>::new(10);
        let key = "s".to_string();
        // A read begins, a write commits and invalidates, then the read stores what it saw.
        let read_began = c.generation();
        c.invalidate();
        c.insert(key.clone(), read_began, 1);
        assert_eq!(c.get(&key), None, "the stale value is not served");
        // A read after the write is cached, until the next write.
        let g = c.generation();
        c.insert(key.clone(), g, 2);
        assert_eq!(c.get(&key), Some(2));
        c.invalidate();
        assert_eq!(c.get(&key), None);
    }

    #[test]
    fn caches_that_are_off_serve_nothing_and_switching_drops_everything() {
        let c = NodeCaches::off();
        let g = c.sessions.generation();
        c.sessions.insert("s".into(), g, None);
        c.switch(true);
        assert_eq!(
            c.sessions.get(&"s".to_string()),
            None,
            "switching on drops the old entries"
        );
        let g = c.client_starts.generation();
        c.client_starts.insert(("s".into(), "app".into()), g, 7);
        assert_eq!(c.client_starts.get(&("s".into(), "app".into())), Some(7));
        c.drop_changed(Changed::Users);
        assert_eq!(
            c.client_starts.get(&("s".into(), "app".into())),
            Some(7),
            "a user change keeps sessions"
        );
        c.drop_changed(Changed::Sessions);
        assert_eq!(
            c.client_starts.get(&("s".into(), "app".into())),
            None,
            "a session change drops clients' parts"
        );
    }

    #[test]
    fn a_recorded_use_moves_a_stale_row_forward_never_back() {
        let touches = RecentTouches::default();
        let row = |last_refresh| crate::store::SessionRow {
            id: "s1".into(),
            last_refresh,
            ..Default::default()
        };
        touches.record("s1", 500);
        touches.record("s1", 400); // an older use arriving late changes nothing
        let mut stale = row(100);
        touches.apply(&mut stale);
        assert_eq!(stale.last_refresh, 500);
        let mut newer = row(900);
        touches.apply(&mut newer);
        assert_eq!(newer.last_refresh, 900);
        let mut other = crate::store::SessionRow {
            id: "s2".into(),
            ..row(100)
        };
        touches.apply(&mut other);
        assert_eq!(other.last_refresh, 100);
    }

    #[test]
    fn a_table_is_swept_once_per_interval() {
        let s = Sweeps::default();
        assert!(s.due(Swept::AuthCode, 1_000));
        assert!(!s.due(Swept::AuthCode, 1_000));
        assert!(!s.due(Swept::AuthCode, 1_000 + SWEEP_INTERVAL - 1));
        // Each table keeps its own time.
        assert!(s.due(Swept::AuthSession, 1_000));
        assert!(s.due(Swept::AuthCode, 1_000 + SWEEP_INTERVAL));
    }

    #[tokio::test]
    async fn the_single_writer_gate_lets_one_writer_through() {
        let gate = WriteGate::single_writer();
        let first = gate.enter().await.ok().flatten();
        assert!(first.is_some());
        // While the first writer holds its turn, the next waits.
        let waiting = gate.enter();
        tokio::pin!(waiting);
        // A zero timeout polls once: it elapses only if the writer has to wait.
        let polled = tokio::time::timeout(std::time::Duration::ZERO, waiting.as_mut()).await;
        assert!(polled.is_err());
        drop(first);
        assert!(waiting.await.ok().flatten().is_some());
        // An open gate (PostgreSQL) never waits.
        let open = WriteGate::default();
        let (a, b) = (open.enter().await, open.enter().await);
        assert!(matches!((a, b), (Ok(None), Ok(None))));
    }
}
