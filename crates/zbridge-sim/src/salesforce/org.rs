//! One simulated org: schema, records, users and profiles with field-level security, sessions and
//! OAuth grants, API usage, Bulk jobs and the fault profile.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::bulk::Job;
use super::faults::FaultProfile;
use super::ids::{SfId, make_id, random_base62};
use super::query_jobs::QueryJob;
use super::schema::Schema;
use super::store::{RECYCLE_BIN_MS, Record, Table, Value};

/// Production or sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrgKind {
    Production,
    Sandbox,
}

impl OrgKind {
    /// The two-character instance code used inside generated ids.
    pub fn pod(self) -> &'static str {
        match self {
            OrgKind::Production => "8a",
            OrgKind::Sandbox => "9S",
        }
    }

    fn salt(self) -> u64 {
        match self {
            OrgKind::Production => 0x5a1e_5f0c,
            OrgKind::Sandbox => 0x5a1d_b0c5,
        }
    }
}

/// The system permissions the simulator models (salesforce-api.md §12.2).
#[derive(Clone, Copy, Debug, Default)]
pub struct Permissions {
    pub customize_application: bool,
    pub modify_all_data: bool,
    pub view_all_data: bool,
    pub view_setup: bool,
    pub api_enabled: bool,
    pub use_any_api_auth: bool,
}

/// What a profile may do with one field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldAccess {
    Edit,
    ReadOnly,
    Hidden,
}

/// A profile: system permissions and field-level security.
#[derive(Clone, Debug)]
pub struct Profile {
    pub name: String,
    pub id: SfId,
    pub perms: Permissions,
    /// `(object index, field index)` pairs the profile cannot see.
    pub hidden: HashSet<(usize, usize)>,
    /// `(object index, field index)` pairs the profile can read but not edit.
    pub read_only: HashSet<(usize, usize)>,
}

/// A user who can log in.
#[derive(Clone, Debug)]
pub struct UserAccount {
    pub username: String,
    pub password: String,
    pub security_token: String,
    pub id: SfId,
    pub profile: usize,
    pub password_expired: bool,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
}

/// Settings an org administrator would change in Setup.
#[derive(Clone, Debug)]
pub struct OrgSettings {
    /// "Enable SOAP API login()" (salesforce-api.md §2.5).
    pub soap_login_enabled: bool,
    /// Whether the caller's IP (loopback) is in a trusted range, so the token may be omitted.
    pub trusted_ip: bool,
    /// Session timeout (default 2 h).
    pub session_timeout: Duration,
    /// Daily API request allocation.
    pub api_daily_max: u64,
    /// Refresh Token Rotation on the connected app.
    pub refresh_token_rotation: bool,
    /// Records the org can store before `STORAGE_LIMIT_EXCEEDED`.
    pub storage_max_records: u64,
}

/// The connected app (External Client App) registered in the org.
#[derive(Clone, Debug)]
pub struct ConnectedApp {
    pub name: String,
    pub consumer_key: String,
    pub consumer_secret: String,
    /// PEM of the public key whose certificate is uploaded for the JWT bearer flow.
    pub jwt_public_key_pem: String,
    /// Profiles whose users are pre-authorised ("Admin approved users are pre-authorized").
    pub preauthorized_profiles: HashSet<usize>,
}

/// A live access token (session).
#[derive(Clone, Debug)]
pub struct Session {
    pub user: usize,
    pub last_used: Instant,
    /// The refresh-token family it came from, so revoking the family revokes it.
    pub family: Option<u64>,
    /// A `passwordExpired` session: only `setPassword()` is allowed.
    pub password_expired: bool,
}

/// A chain of refresh tokens issued from one approval.
#[derive(Clone, Debug)]
pub struct TokenFamily {
    pub user: usize,
    pub client_id: String,
    pub scope: String,
    pub revoked: bool,
    /// The one refresh token of the family that is currently valid.
    pub current: String,
    pub issued_order: u64,
}

/// An issued authorization code waiting for the token exchange.
#[derive(Clone, Debug)]
pub struct AuthCode {
    pub user: usize,
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub scope: String,
    pub expires: Instant,
}

/// A paged query result waiting for `nextRecordsUrl` calls.
#[derive(Clone, Debug)]
pub struct Cursor {
    pub user: usize,
    pub rows: Vec<serde_json::Value>,
    pub batch_size: usize,
}

/// The org.
pub struct Org {
    pub kind: OrgKind,
    pub org_id: SfId,
    pub name: String,
    pub seed: u64,
    pub schema: Schema,
    pub tables: Vec<Table>,
    pub profiles: Vec<Profile>,
    pub users: Vec<UserAccount>,
    pub app: ConnectedApp,
    pub settings: OrgSettings,
    pub faults: FaultProfile,
    /// Scheme + host + port of this org's listener; every URL the org hands out starts with it.
    pub base_url: String,
    pub sessions: HashMap<String, Session>,
    /// Every refresh token ever issued → its family (rotated ones included, for reuse detection).
    pub refresh_tokens: HashMap<String, u64>,
    pub families: HashMap<u64, TokenFamily>,
    pub auth_codes: HashMap<String, AuthCode>,
    /// Authorize-page logins waiting for Allow/Deny: ticket → (user, original query).
    pub pending_approvals: HashMap<String, (usize, String)>,
    /// Users who approved the app through a flow that issued a refresh token (JWT needs this).
    pub approved_users: HashSet<usize>,
    pub cursors: HashMap<String, Cursor>,
    pub jobs: HashMap<String, Job>,
    /// Bulk API 2.0 query jobs, apart from the ingest jobs.
    pub query_jobs: HashMap<String, QueryJob>,
    /// Query jobs created today (for `DailyBulkV2QueryJobs`).
    pub query_jobs_created: u64,
    /// Milliseconds added to the wall clock by `/sim/clock/advance`.
    pub clock_offset_ms: i64,
    /// When the org was created, on its clock (the delete log reaches back to it).
    pub created_ms: i64,
    pub api_used: u64,
    pub counters: BTreeMap<String, u64>,
    /// Keys of records that already failed once with the row-lock fault.
    pub row_lock_seen: HashSet<String>,
    pub rng: ChaCha8Rng,
    next_id: u64,
    next_family: u64,
    seeded_accounts: usize,
}

/// Where an all-or-none call started: per table, whether it opened the journal and its length.
#[derive(Debug)]
pub struct TxMark(Vec<(bool, usize)>);

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A timestamp as the APIs write it: `2024-01-02T03:04:05.000+0000` (UTC).
pub fn stamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string())
        .unwrap_or_default()
}

/// The org id for a seed.
pub fn org_id_for(kind: OrgKind, seed: u64) -> SfId {
    make_id("00D", kind.pod(), 1 + (mix(seed ^ kind.salt()) % 1_000_000))
}

/// The ids of the seeded standard Account records of an org. The Zuora simulator uses them as
/// `CrmId` values so that both simulators agree without talking to each other.
pub fn seeded_account_ids_for(kind: OrgKind, seed: u64, count: usize) -> Vec<String> {
    (0..count as u64)
        .map(|i| make_id("001", kind.pod(), account_counter_base(seed, kind) + i).to_string())
        .collect()
}

/// Seeded accounts live far above the counter used for new records (62^8), so the two ranges
/// never meet.
fn account_counter_base(seed: u64, kind: OrgKind) -> u64 {
    218_340_105_584_896 + (mix(seed ^ kind.salt() ^ 0xacc) % 1_000_000) * 1000
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ceb9fe1a85ec53);
    x ^ (x >> 33)
}

/// What the builder passes to a new org.
#[derive(Clone, Debug)]
pub struct OrgConfig {
    pub kind: OrgKind,
    pub seed: u64,
    pub accounts: usize,
    pub settings: OrgSettings,
    pub faults: FaultProfile,
    pub jwt_public_key_pem: String,
}

/// Fields the limited profile cannot see, and fields it can only read.
const LIMITED_HIDDEN: &[(&str, &str)] = &[
    ("Zuora__CustomerAccount__c", "Zuora__Notes__c"),
    ("Zuora__Subscription__c", "Zuora__Notes__c"),
    ("Zuora__ZInvoice__c", "Zuora__Description__c"),
];
const LIMITED_READ_ONLY: &[(&str, &str)] = &[
    ("Zuora__CustomerAccount__c", "Zuora__Balance__c"),
    ("Zuora__Subscription__c", "Zuora__MRR__c"),
    ("Zuora__SubscriptionProductCharge__c", "Zuora__Price__c"),
];

impl Org {
    /// Creates and seeds an org.
    pub fn new(config: OrgConfig) -> Org {
        let seed = config.seed ^ config.kind.salt();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let schema = Schema::build(seed);
        let tables = schema
            .objects
            .iter()
            .map(|o| Table::new(o.external_id_fields()))
            .collect();
        let org_id = org_id_for(config.kind, config.seed);
        let suffix = match config.kind {
            OrgKind::Production => String::new(),
            OrgKind::Sandbox => ".sandbox".to_string(),
        };
        let app = ConnectedApp {
            name: "zbridge".into(),
            consumer_key: format!("3MVG9{}", random_base62(&mut rng, 80)),
            consumer_secret: format!("{}", 1_000_000_000_000_000_000u128 + u128::from(mix(seed))),
            jwt_public_key_pem: config.jwt_public_key_pem.clone(),
            preauthorized_profiles: HashSet::from([0]),
        };
        let mut org = Org {
            kind: config.kind,
            org_id,
            name: match config.kind {
                OrgKind::Production => "zbridge simulated org".into(),
                OrgKind::Sandbox => "zbridge simulated sandbox".into(),
            },
            seed: config.seed,
            schema,
            tables,
            profiles: Vec::new(),
            users: Vec::new(),
            app,
            settings: config.settings,
            faults: config.faults,
            base_url: String::new(),
            sessions: HashMap::new(),
            refresh_tokens: HashMap::new(),
            families: HashMap::new(),
            auth_codes: HashMap::new(),
            pending_approvals: HashMap::new(),
            approved_users: HashSet::new(),
            cursors: HashMap::new(),
            jobs: HashMap::new(),
            query_jobs: HashMap::new(),
            query_jobs_created: 0,
            clock_offset_ms: 0,
            created_ms: now_ms(),
            api_used: 0,
            counters: BTreeMap::new(),
            row_lock_seen: HashSet::new(),
            rng,
            next_id: 1,
            next_family: 1,
            seeded_accounts: config.accounts,
        };
        org.seed_profiles_and_users(&suffix);
        org.seed_accounts();
        org
    }

    fn seed_profiles_and_users(&mut self, suffix: &str) {
        let admin = Permissions {
            customize_application: true,
            modify_all_data: true,
            view_all_data: true,
            view_setup: true,
            api_enabled: true,
            use_any_api_auth: true,
        };
        let limited = Permissions {
            view_setup: true,
            api_enabled: true,
            use_any_api_auth: true,
            ..Permissions::default()
        };
        let pairs = |list: &[(&str, &str)]| -> HashSet<(usize, usize)> {
            list.iter()
                .filter_map(|(o, f)| {
                    let oi = self.schema.object(o)?;
                    Some((oi, self.schema.objects[oi].field(f)?))
                })
                .collect()
        };
        let limited_hidden = pairs(LIMITED_HIDDEN);
        let limited_read_only = pairs(LIMITED_READ_ONLY);
        let profiles = [
            (
                "System Administrator",
                admin,
                HashSet::new(),
                HashSet::new(),
            ),
            (
                "Zuora Sync Limited",
                limited,
                limited_hidden,
                limited_read_only,
            ),
        ];
        for (name, perms, hidden, read_only) in profiles {
            let id = self.new_id_for("Profile");
            self.profiles.push(Profile {
                name: name.into(),
                id,
                perms,
                hidden,
                read_only,
            });
        }
        let users = [
            ("admin", "Ada", "Admin", 0usize, false, "Adm1n&<pass>"),
            ("sync", "Sam", "Sync", 1, false, "Sync-pass-1"),
            ("expired", "Eve", "Expired", 0, true, "Exp1red-pass"),
        ];
        for (login, first, last, profile, expired, password) in users {
            let id = self.new_id_for("User");
            let token = random_base62(&mut self.rng, 24);
            self.users.push(UserAccount {
                username: format!("{login}@zbridge-sim.example{suffix}"),
                password: password.into(),
                security_token: token,
                id,
                profile,
                password_expired: expired,
                first_name: first.into(),
                last_name: last.into(),
                email: format!("{login}@zbridge-sim.example"),
            });
        }
        self.write_directory_records();
    }

    /// Mirrors profiles and users into their (read-only) tables so SOQL and REST can read them.
    fn write_directory_records(&mut self) {
        let now = now_ms();
        let profile_obj = self.schema.object("Profile").unwrap_or_default();
        let user_obj = self.schema.object("User").unwrap_or_default();
        let mut profile_records = Vec::new();
        for p in &self.profiles {
            let o = &self.schema.objects[profile_obj];
            let mut r = blank_record(p.id, now);
            let set = |r: &mut Record, f: &str, v: Value| {
                if let Some(i) = o.field(f) {
                    r.set(i, Some(v));
                }
            };
            set(&mut r, "Name", Value::Text(p.name.as_str().into()));
            set(&mut r, "UserType", Value::Text("Standard".into()));
            set(
                &mut r,
                "PermissionsCustomizeApplication",
                Value::Bool(p.perms.customize_application),
            );
            set(
                &mut r,
                "PermissionsModifyAllData",
                Value::Bool(p.perms.modify_all_data),
            );
            set(
                &mut r,
                "PermissionsViewSetup",
                Value::Bool(p.perms.view_setup),
            );
            set(
                &mut r,
                "PermissionsApiEnabled",
                Value::Bool(p.perms.api_enabled),
            );
            profile_records.push(r);
        }
        let mut user_records = Vec::new();
        for u in &self.users {
            let o = &self.schema.objects[user_obj];
            let mut r = blank_record(u.id, now);
            let set = |r: &mut Record, f: &str, v: Value| {
                if let Some(i) = o.field(f) {
                    r.set(i, Some(v));
                }
            };
            set(
                &mut r,
                "Name",
                Value::Text(format!("{} {}", u.first_name, u.last_name).into()),
            );
            set(&mut r, "Username", Value::Text(u.username.as_str().into()));
            set(
                &mut r,
                "FirstName",
                Value::Text(u.first_name.as_str().into()),
            );
            set(&mut r, "LastName", Value::Text(u.last_name.as_str().into()));
            set(&mut r, "Email", Value::Text(u.email.as_str().into()));
            set(
                &mut r,
                "Alias",
                Value::Text(u.username.chars().take(8).collect::<String>().into()),
            );
            set(&mut r, "ProfileId", Value::Ref(self.profiles[u.profile].id));
            set(&mut r, "IsActive", Value::Bool(true));
            set(&mut r, "UserType", Value::Text("Standard".into()));
            set(&mut r, "TimeZoneSidKey", Value::Text("GMT".into()));
            set(&mut r, "LocaleSidKey", Value::Text("en_US".into()));
            set(&mut r, "LanguageLocaleKey", Value::Text("en_US".into()));
            user_records.push(r);
        }
        for r in profile_records {
            self.tables[profile_obj].insert(r);
        }
        for r in user_records {
            self.tables[user_obj].insert(r);
        }
    }

    fn seed_accounts(&mut self) {
        let Some(account_obj) = self.schema.object("Account") else {
            return;
        };
        let name_field = self.schema.objects[account_obj].field("Name");
        let number_field = self.schema.objects[account_obj].field("AccountNumber");
        let now = now_ms();
        let base = account_counter_base(self.seed, self.kind);
        for i in 0..self.seeded_accounts as u64 {
            let id = make_id("001", self.kind.pod(), base + i);
            let mut r = blank_record(id, now);
            if let Some(f) = name_field {
                r.set(
                    f,
                    Some(Value::Text(format!("Sim Customer {:05}", i + 1).into())),
                );
            }
            if let Some(f) = number_field {
                r.set(f, Some(Value::Text(format!("SIM-{:05}", i + 1).into())));
            }
            self.tables[account_obj].insert(r);
        }
    }

    /// Drops every record and grant, then re-seeds; users, app and settings stay.
    pub fn reset(&mut self) {
        for t in &mut self.tables {
            t.clear();
        }
        self.sessions.clear();
        self.refresh_tokens.clear();
        self.families.clear();
        self.auth_codes.clear();
        self.pending_approvals.clear();
        self.approved_users.clear();
        self.cursors.clear();
        self.jobs.clear();
        self.query_jobs.clear();
        self.query_jobs_created = 0;
        self.api_used = 0;
        self.counters.clear();
        self.row_lock_seen.clear();
        self.write_directory_records();
        self.seed_accounts();
    }

    /// The org's "now" in Unix milliseconds: the wall clock plus every `/sim/clock/advance`.
    /// Record timestamps, the recycle bin and the replication windows read it.
    pub fn clock_ms(&self) -> i64 {
        now_ms() + self.clock_offset_ms
    }

    /// Moves the org's clock forward (never back).
    pub fn advance_clock(&mut self, ms: i64) {
        self.clock_offset_ms = self.clock_offset_ms.saturating_add(ms.max(0));
    }

    /// Empties the recycle bins of records deleted more than 15 days ago.
    pub fn purge_recycle_bin(&mut self) {
        let before = self.clock_ms() - RECYCLE_BIN_MS;
        for t in &mut self.tables {
            t.purge_bin(before);
        }
    }

    /// Opens (or nests into) an undo journal on every table, for an all-or-none call.
    pub fn tx_begin(&mut self) -> TxMark {
        TxMark(self.tables.iter_mut().map(Table::journal_mark).collect())
    }

    /// Undoes every write made since `mark`.
    pub fn tx_rollback(&mut self, mark: &TxMark) {
        for (t, (_, len)) in self.tables.iter_mut().zip(&mark.0) {
            t.journal_rollback(*len);
        }
    }

    /// Ends the journal opened by `mark` (a nested mark leaves the outer one running).
    pub fn tx_end(&mut self, mark: TxMark) {
        for (t, (started, _)) in self.tables.iter_mut().zip(mark.0) {
            t.journal_end(started);
        }
    }

    /// A fresh id for a new record of `object`.
    pub fn new_id_for(&mut self, object: &str) -> SfId {
        let prefix = self
            .schema
            .object(object)
            .map(|i| self.schema.objects[i].key_prefix.clone())
            .unwrap_or_else(|| "000".into());
        self.new_id_with_prefix(&prefix)
    }

    /// A fresh id with an explicit key prefix (jobs, query locators).
    pub fn new_id_with_prefix(&mut self, prefix: &str) -> SfId {
        let n = self.next_id;
        self.next_id += 1;
        make_id(prefix, self.kind.pod(), n)
    }

    /// A fresh refresh-token family number.
    pub fn next_family(&mut self) -> u64 {
        let n = self.next_family;
        self.next_family += 1;
        n
    }

    /// A new opaque token (access tokens carry the org id prefix like real ones).
    pub fn new_access_token(&mut self) -> String {
        format!(
            "{}!{}",
            self.org_id.id15(),
            random_base62(&mut self.rng, 96)
        )
    }

    /// A new random secret of the given length.
    pub fn random_token(&mut self, len: usize) -> String {
        random_base62(&mut self.rng, len)
    }

    /// The access a user's profile grants on a field.
    pub fn field_access(&self, user: usize, object: usize, field: usize) -> FieldAccess {
        let profile = &self.profiles[self.users[user].profile];
        if profile.hidden.contains(&(object, field)) {
            FieldAccess::Hidden
        } else if profile.read_only.contains(&(object, field)) {
            FieldAccess::ReadOnly
        } else {
            FieldAccess::Edit
        }
    }

    /// The permissions of a user's profile.
    pub fn perms(&self, user: usize) -> Permissions {
        self.profiles[self.users[user].profile].perms
    }

    /// Total live records, for the storage limit.
    pub fn stored_records(&self) -> u64 {
        self.tables.iter().map(|t| t.len() as u64).sum()
    }

    /// Whether a create must fail with `STORAGE_LIMIT_EXCEEDED`.
    pub fn storage_full(&self) -> bool {
        self.faults.storage_limit || self.stored_records() >= self.settings.storage_max_records
    }

    /// Finds a user by username (case-insensitive, like Salesforce).
    pub fn user_by_name(&self, username: &str) -> Option<usize> {
        self.users
            .iter()
            .position(|u| u.username.eq_ignore_ascii_case(username))
    }

    /// Validates a bearer token and refreshes its inactivity timer.
    pub fn session_user(&mut self, token: &str) -> Option<usize> {
        let timeout = self.settings.session_timeout;
        let session = self.sessions.get_mut(token)?;
        if session.last_used.elapsed() > timeout {
            self.sessions.remove(token);
            return None;
        }
        session.last_used = Instant::now();
        if session.password_expired {
            return None;
        }
        Some(session.user)
    }

    /// Starts a session for a user.
    pub fn open_session(&mut self, user: usize, family: Option<u64>) -> String {
        let token = self.new_access_token();
        self.sessions.insert(
            token.clone(),
            Session {
                user,
                last_used: Instant::now(),
                family,
                password_expired: self.users[user].password_expired,
            },
        );
        token
    }

    /// Revokes a refresh-token family and every access token issued from it.
    pub fn revoke_family(&mut self, family: u64) {
        if let Some(f) = self.families.get_mut(&family) {
            f.revoked = true;
        }
        self.sessions.retain(|_, s| s.family != Some(family));
    }

    /// Ends every session at once (a test lever for `INVALID_SESSION_ID` mid-run).
    pub fn expire_sessions(&mut self) {
        self.sessions.clear();
    }

    /// The REST instance URL.
    pub fn instance_url(&self) -> String {
        self.base_url.clone()
    }

    /// The identity URL of a user (`/id/{orgId18}/{userId18}`).
    pub fn identity_url(&self, user: usize) -> String {
        format!(
            "{}/id/{}/{}",
            self.base_url, self.org_id, self.users[user].id
        )
    }

    /// Counts one call against the daily allocation.
    pub fn count_api_call(&mut self) {
        self.api_used += 1;
    }

    /// Whether the daily allocation is used up.
    pub fn api_exhausted(&self) -> bool {
        self.faults.request_limit || self.api_used >= self.settings.api_daily_max
    }

    /// The `Sforce-Limit-Info` header value.
    pub fn limit_info(&self) -> String {
        let used = if self.faults.request_limit {
            self.settings.api_daily_max
        } else {
            self.api_used.min(self.settings.api_daily_max)
        };
        format!("api-usage={}/{}", used, self.settings.api_daily_max)
    }
}

/// An empty record stamped with the creation time.
pub fn blank_record(id: SfId, now: i64) -> Record {
    Record {
        id,
        fields: Vec::new(),
        created_ms: now,
        modified_ms: now,
        created_by: 0,
        modified_by: 0,
        deleted: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(kind: OrgKind) -> OrgConfig {
        OrgConfig {
            kind,
            seed: 42,
            accounts: 3,
            settings: OrgSettings {
                soap_login_enabled: true,
                trusted_ip: false,
                session_timeout: Duration::from_secs(7200),
                api_daily_max: 100,
                refresh_token_rotation: true,
                storage_max_records: 1000,
            },
            faults: FaultProfile::default(),
            jwt_public_key_pem: String::new(),
        }
    }

    #[test]
    fn seeded_accounts_match_the_public_function() {
        let org = Org::new(config(OrgKind::Production));
        let account = org.schema.object("Account").unwrap();
        let ids: Vec<String> = org.tables[account]
            .iter()
            .map(|r| r.id.to_string())
            .collect();
        assert_eq!(ids, seeded_account_ids_for(OrgKind::Production, 42, 3));
        assert!(ids.iter().all(|id| id.starts_with("001")));
    }

    #[test]
    fn sandbox_has_its_own_org_and_users() {
        let prod = Org::new(config(OrgKind::Production));
        let sandbox = Org::new(config(OrgKind::Sandbox));
        assert_ne!(prod.org_id, sandbox.org_id);
        assert!(prod.org_id.as_str().starts_with("00D"));
        assert_ne!(prod.users[0].id, sandbox.users[0].id);
        assert!(sandbox.users[0].username.ends_with(".sandbox"));
    }

    #[test]
    fn limited_profile_hides_and_locks_fields() {
        let org = Org::new(config(OrgKind::Production));
        let o = org.schema.object("Zuora__CustomerAccount__c").unwrap();
        let notes = org.schema.objects[o].field("Zuora__Notes__c").unwrap();
        let balance = org.schema.objects[o].field("Zuora__Balance__c").unwrap();
        assert_eq!(org.field_access(1, o, notes), FieldAccess::Hidden);
        assert_eq!(org.field_access(1, o, balance), FieldAccess::ReadOnly);
        assert_eq!(org.field_access(0, o, notes), FieldAccess::Edit);
        assert!(!org.perms(1).customize_application);
    }
}
