//! Deterministic generator of a realistic tenant.
//!
//! The same seed, account count, CrmId share and start instant always give the same rows and
//! the same ids. Every account draws from its own random stream, so changing one option of one
//! account's family cannot shift the rest of the tenant.

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::schema::Kind;
use super::store::{DEC_SCALE, Row, Store};

const DAY_MS: i64 = 86_400_000;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// Random seed.
    pub seed: u64,
    /// Number of customer accounts.
    pub accounts: usize,
    /// Share of accounts (0.0–1.0) that carry a Salesforce `CrmId`.
    pub crm_share: f64,
    /// The tenant's "now" when the data was generated (milliseconds).
    pub now_ms: i64,
    /// Offset added to account numbers, so entities of one tenant do not collide.
    pub number_offset: usize,
    /// Whether some free-text values contain line breaks (as real tenants' notes do).
    pub multiline_text: bool,
}

const ADJECTIVES: &[&str] = &[
    "Blue",
    "Northern",
    "Bright",
    "Silver",
    "Rapid",
    "Quiet",
    "Golden",
    "Crimson",
    "Summit",
    "Harbor",
    "Pioneer",
    "Granite",
    "Evergreen",
    "Atlas",
    "Cobalt",
    "Lunar",
    "Prairie",
    "Coastal",
    "Vertex",
    "Maple",
];
const NOUNS: &[&str] = &[
    "Analytics",
    "Logistics",
    "Foods",
    "Robotics",
    "Media",
    "Health",
    "Energy",
    "Software",
    "Capital",
    "Studios",
    "Networks",
    "Outfitters",
    "Dynamics",
    "Labs",
    "Systems",
    "Farms",
    "Partners",
    "Works",
    "Designs",
    "Freight",
];
const SUFFIXES: &[&str] = &["Inc", "LLC", "Ltd", "GmbH", "SA", "Co", "Group", "Corp"];
const FIRST: &[&str] = &[
    "Amy", "Ben", "Chloé", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kwame",
    "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Victor",
    "Wen", "Yusuf", "Zoë",
];
const LAST: &[&str] = &[
    "Lawrence",
    "Okafor",
    "Müller",
    "Tanaka",
    "García",
    "O'Brien",
    "Nguyen",
    "Kowalski",
    "Silva",
    "Haddad",
    "Smith",
    "Johansson",
    "Rossi",
    "Dubois",
    "Patel",
    "Kim",
    "Novak",
    "Andersen",
    "Moreau",
    "Fischer",
];
const CITIES: &[(&str, &str, &str, &str)] = &[
    ("San Francisco", "California", "94105", "United States"),
    ("New York", "New York", "10001", "United States"),
    ("Austin", "Texas", "73301", "United States"),
    ("London", "", "EC1A 1BB", "United Kingdom"),
    ("Berlin", "", "10115", "Germany"),
    ("Paris", "", "75001", "France"),
    ("Tokyo", "", "100-0001", "Japan"),
    ("Toronto", "Ontario", "M5H 2N2", "Canada"),
    ("Sydney", "New South Wales", "2000", "Australia"),
];
/// Notes that exercise CSV quoting: commas, quotes and embedded newlines.
const AWKWARD_NOTES: &[&str] = &[
    "Prefers invoices by email, not post",
    "Line one\nline two",
    "Said \"call after 5pm\", then hung up",
    "Multi-line,\r\nquoted, \"note\"",
];

struct Charge {
    row: Row,
    name: Arc<str>,
    number_prefix: &'static str,
    charge_type: usize,
    model: usize,
    period: usize,
    uom: Arc<str>,
    price: i64,
    sku: Arc<str>,
}

struct PlanTemplate {
    row: Row,
    name: Arc<str>,
    charges: Vec<Charge>,
}

/// Shared strings and running counters for one generation.
struct Ctx {
    cfg: GenConfig,
    now_day: i64,
    users: Vec<Arc<str>>,
    plans: Vec<PlanTemplate>,
    counters: Counters,
}

#[derive(Default)]
struct Counters {
    subscription: usize,
    amendment: usize,
    charge: usize,
    invoice: usize,
    payment: usize,
    refund: usize,
}

/// Fills `store` with a tenant. Returns the number of rows generated.
pub fn generate(store: &mut Store, cfg: &GenConfig) -> usize {
    let mut master = ChaCha8Rng::seed_from_u64(cfg.seed);
    let users: Vec<Arc<str>> = (0..4)
        .map(|_| Arc::from(format!("{:032x}", master.random::<u128>()).as_str()))
        .collect();
    let mut ctx = Ctx {
        cfg: cfg.clone(),
        now_day: cfg.now_ms / DAY_MS,
        users,
        plans: Vec::new(),
        counters: Counters::default(),
    };
    reserve(store, cfg.accounts);
    build_catalog(store, &mut ctx, &mut master);
    for i in 0..cfg.accounts {
        let mut rng = ChaCha8Rng::seed_from_u64(
            cfg.seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        account_family(store, &mut ctx, &mut rng, i);
    }
    store.tables.iter().map(|t| t.len()).sum()
}

fn reserve(store: &mut Store, accounts: usize) {
    for (kind, per_account) in [
        (Kind::Account, 1.0),
        (Kind::Contact, 1.6),
        (Kind::PaymentMethod, 1.0),
        (Kind::Subscription, 2.5),
        (Kind::RatePlan, 4.0),
        (Kind::RatePlanCharge, 7.0),
        (Kind::Invoice, 4.0),
        (Kind::InvoiceItem, 8.0),
        (Kind::Payment, 3.5),
        (Kind::InvoicePayment, 3.5),
    ] {
        store
            .table_mut(kind)
            .reserve((accounts as f64 * per_account) as usize);
    }
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn build_catalog(store: &mut Store, ctx: &mut Ctx, rng: &mut ChaCha8Rng) {
    const PRODUCTS: &[(&str, usize)] = &[
        ("Platform", 0),
        ("Analytics Add-On", 1),
        ("Premium Support", 1),
        ("Data Storage", 0),
        ("API Access", 1),
        ("Training Services", 2),
        ("Mobile Seats", 0),
        ("Compliance Pack", 1),
    ];
    let day0 = (ctx.now_day - 4 * 365) as i32;
    let created = (ctx.now_day - 4 * 365) * DAY_MS + 3_600_000;
    for (p, &(pname, category)) in PRODUCTS.iter().enumerate() {
        let def = Kind::Product.def();
        let t = store.table_mut(Kind::Product);
        let prow = t.push(created, created + rng.random_range(0..300) * DAY_MS);
        t.set_text(prow, def.idx("Name"), Arc::from(pname));
        t.set_text(
            prow,
            def.idx("SKU"),
            Arc::from(format!("SKU-{:05}", p + 1).as_str()),
        );
        t.set_text(
            prow,
            def.idx("Description"),
            Arc::from(format!("{pname}, billed by the seat or by use").as_str()),
        );
        t.set_pick(prow, def.idx("Category"), category);
        t.set_date(prow, def.idx("EffectiveStartDate"), day0);
        t.set_date(prow, def.idx("EffectiveEndDate"), day0 + 20 * 365);
        audit(t, prow, &ctx.users);
        for (tier_name, factor) in [("Standard", 1), ("Enterprise", 3)] {
            let plan_name: Arc<str> = Arc::from(format!("{pname} {tier_name}").as_str());
            let def = Kind::ProductRatePlan.def();
            let t = store.table_mut(Kind::ProductRatePlan);
            let prp = t.push(created, created + rng.random_range(0..300) * DAY_MS);
            t.set_ref(prp, def.idx("ProductId"), Some(prow));
            t.set_text(prp, def.idx("Name"), plan_name.clone());
            t.set_text(
                prp,
                def.idx("Description"),
                Arc::from(format!("{tier_name} plan").as_str()),
            );
            t.set_date(prp, def.idx("EffectiveStartDate"), day0);
            t.set_date(prp, def.idx("EffectiveEndDate"), day0 + 20 * 365);
            audit(t, prp, &ctx.users);
            let mut charges = Vec::new();
            let n_charges = 1 + (p + factor) % 3;
            for c in 0..n_charges {
                let (charge_type, model, cname, uom) = match c {
                    0 => (
                        0,
                        if p % 3 == 0 { 2 } else { 1 },
                        "Subscription Fee",
                        "Seat",
                    ),
                    1 => (2, 1, "Usage Fee", "GB"),
                    _ => (1, 0, "Setup Fee", "Each"),
                };
                let period = if tier_name == "Enterprise" && c == 0 {
                    2
                } else {
                    0
                };
                let price = (rng.random_range(5..200) * factor as i64) * DEC_SCALE
                    + rng.random_range(0..100);
                let def = Kind::ProductRatePlanCharge.def();
                let t = store.table_mut(Kind::ProductRatePlanCharge);
                let prpc = t.push(created, created + rng.random_range(0..300) * DAY_MS);
                let name: Arc<str> = Arc::from(format!("{pname} {cname}").as_str());
                let uom: Arc<str> = Arc::from(uom);
                t.set_ref(prpc, def.idx("ProductRatePlanId"), Some(prp));
                t.set_text(prpc, def.idx("Name"), name.clone());
                t.set_pick(prpc, def.idx("ChargeType"), charge_type);
                t.set_pick(prpc, def.idx("ChargeModel"), model);
                t.set_pick(prpc, def.idx("BillingPeriod"), period);
                t.set_text(prpc, def.idx("UOM"), uom.clone());
                t.set_i64(prpc, def.idx("DefaultQuantity"), DEC_SCALE);
                audit(t, prpc, &ctx.users);
                let tiers: &[(i64, Option<i64>)] = if model == 2 {
                    &[(0, Some(10)), (11, Some(100)), (101, None)]
                } else {
                    &[(0, None)]
                };
                for currency in 0..5 {
                    for (i, (start, end)) in tiers.iter().enumerate() {
                        let def = Kind::ProductRatePlanChargeTier.def();
                        let t = store.table_mut(Kind::ProductRatePlanChargeTier);
                        let tr = t.push(created, created);
                        t.set_ref(tr, def.idx("ProductRatePlanChargeId"), Some(prpc));
                        t.set_pick(tr, def.idx("Currency"), currency);
                        t.set_i64(tr, def.idx("Tier"), i as i64 + 1);
                        t.set_i64(tr, def.idx("StartingUnit"), start * DEC_SCALE);
                        if let Some(e) = end {
                            t.set_i64(tr, def.idx("EndingUnit"), e * DEC_SCALE);
                        }
                        t.set_i64(tr, def.idx("Price"), price * (10 - i as i64) / 10);
                        t.set_pick(tr, def.idx("PriceFormat"), usize::from(model != 0));
                        audit(t, tr, &ctx.users);
                    }
                }
                charges.push(Charge {
                    row: prpc,
                    name,
                    number_prefix: "C-",
                    charge_type,
                    model,
                    period,
                    uom,
                    price,
                    sku: Arc::from(format!("SKU-{:05}", p + 1).as_str()),
                });
            }
            ctx.plans.push(PlanTemplate {
                row: prp,
                name: plan_name,
                charges,
            });
        }
    }
}

fn audit(t: &mut super::store::Table, row: Row, users: &[Arc<str>]) {
    let def = t.kind.def();
    let who = users[row as usize % users.len()].clone();
    t.set_text(row, def.idx("CreatedById"), who.clone());
    t.set_text(row, def.idx("UpdatedById"), who);
}

/// A random instant between `from` and `to` (milliseconds), never after `to`.
fn between(rng: &mut ChaCha8Rng, from: i64, to: i64) -> i64 {
    if to <= from {
        to
    } else {
        rng.random_range(from..to)
    }
}

/// An `UpdatedDate`: usually some time after creation, sometimes very recent, so incremental
/// windows near "now" are never empty.
fn updated_after(rng: &mut ChaCha8Rng, created: i64, now: i64) -> i64 {
    match rng.random_range(0..10) {
        0 => between(rng, (now - 7 * DAY_MS).max(created), now),
        1..=4 => created,
        _ => between(rng, created, now),
    }
}

fn crm_id(rng: &mut ChaCha8Rng) -> String {
    const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut id = String::from("0015g");
    while id.len() < 15 {
        id.push(ALNUM[rng.random_range(0..ALNUM.len())] as char);
    }
    let suffix: String = id
        .as_bytes()
        .chunks(5)
        .map(|chunk| {
            let bits = chunk.iter().enumerate().fold(0usize, |acc, (i, b)| {
                acc | (usize::from(b.is_ascii_uppercase()) << i)
            });
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[bits] as char
        })
        .collect();
    id + &suffix
}

/// A note with commas and quotes, and with line breaks unless `multiline` is off.
fn awkward_note(rng: &mut ChaCha8Rng, multiline: bool) -> &'static str {
    let note = *pick(rng, AWKWARD_NOTES);
    if multiline { note } else { AWKWARD_NOTES[0] }
}

fn account_family(store: &mut Store, ctx: &mut Ctx, rng: &mut ChaCha8Rng, i: usize) {
    let now = ctx.cfg.now_ms;
    let created = now - rng.random_range(30..1095) * DAY_MS - rng.random_range(0..DAY_MS);
    let number = ctx.cfg.number_offset + i + 1;
    let company = format!(
        "{} {} {}",
        pick(rng, ADJECTIVES),
        pick(rng, NOUNS),
        pick(rng, SUFFIXES)
    );
    let domain = company
        .split(' ')
        .take(2)
        .collect::<String>()
        .to_ascii_lowercase();
    let currency = if rng.random_bool(0.7) {
        0
    } else {
        rng.random_range(1..5)
    };
    let users = ctx.users.clone();

    let def = Kind::Account.def();
    let acc = {
        let t = store.table_mut(Kind::Account);
        let acc = t.push(created, updated_after(rng, created, now));
        t.set_text(
            acc,
            def.idx("AccountNumber"),
            Arc::from(format!("A{number:08}").as_str()),
        );
        t.set_text(acc, def.idx("Name"), Arc::from(company.as_str()));
        t.set_pick(acc, def.idx("Currency"), currency);
        t.set_pick(
            acc,
            def.idx("Status"),
            match rng.random_range(0..100) {
                0..=3 => 0,
                4..=9 => 2,
                _ => 1,
            },
        );
        t.set_bool(acc, def.idx("AutoPay"), rng.random_bool(0.6));
        t.set_i64(acc, def.idx("BillCycleDay"), rng.random_range(1..29));
        t.set_pick(acc, def.idx("PaymentTerm"), rng.random_range(0..4));
        t.set_pick(
            acc,
            def.idx("TaxExemptStatus"),
            if rng.random_bool(0.9) {
                0
            } else {
                rng.random_range(1..3)
            },
        );
        if rng.random_bool(ctx.cfg.crm_share.clamp(0.0, 1.0)) {
            t.set_text(acc, def.idx("CrmId"), Arc::from(crm_id(rng).as_str()));
        }
        if i > 10 && rng.random_bool(0.05) {
            t.set_ref(acc, def.idx("ParentId"), Some(rng.random_range(0..acc)));
        }
        t.set_pick(acc, def.idx("Batch"), rng.random_range(0..5));
        t.set_text(
            acc,
            def.idx("SalesRepName"),
            Arc::from(format!("{} {}", pick(rng, FIRST), pick(rng, LAST)).as_str()),
        );
        if rng.random_bool(0.1) {
            t.set_text(
                acc,
                def.idx("Notes"),
                Arc::from(awkward_note(rng, ctx.cfg.multiline_text)),
            );
        }
        t.set_pick(acc, def.idx("Region__c"), rng.random_range(0..3));
        t.set_text(
            acc,
            def.idx("Segment__c"),
            Arc::from(*pick(rng, &["SMB", "Mid-Market", "Enterprise"])),
        );
        t.set_i64(
            acc,
            def.idx("LastMetricsUpdate"),
            now - rng.random_range(0..DAY_MS),
        );
        audit(t, acc, &users);
        acc
    };

    // Contacts: a bill-to, and a separate sold-to for some accounts.
    let n_contacts = if rng.random_bool(0.6) { 1 } else { 2 };
    let mut contacts = Vec::with_capacity(2);
    for _ in 0..n_contacts {
        let cdef = Kind::Contact.def();
        let t = store.table_mut(Kind::Contact);
        let c_created = created + rng.random_range(0..60_000);
        let c = t.push(c_created, updated_after(rng, c_created, now));
        let (first, last) = (*pick(rng, FIRST), *pick(rng, LAST));
        let (city, state, zip, country) = *pick(rng, CITIES);
        t.set_ref(c, cdef.idx("AccountId"), Some(acc));
        t.set_text(c, cdef.idx("FirstName"), Arc::from(first));
        t.set_text(c, cdef.idx("LastName"), Arc::from(last));
        let local: String = format!("{first}.{last}")
            .chars()
            .filter(char::is_ascii_alphabetic)
            .collect::<String>();
        t.set_text(
            c,
            cdef.idx("WorkEmail"),
            Arc::from(format!("{}@{domain}.example", local.to_ascii_lowercase()).as_str()),
        );
        t.set_text(
            c,
            cdef.idx("WorkPhone"),
            Arc::from(format!("+1-555-{:04}", rng.random_range(0..10_000)).as_str()),
        );
        t.set_text(
            c,
            cdef.idx("Address1"),
            Arc::from(format!("{} Market Street", rng.random_range(1..999)).as_str()),
        );
        t.set_text(c, cdef.idx("City"), Arc::from(city));
        if !state.is_empty() {
            t.set_text(c, cdef.idx("State"), Arc::from(state));
        }
        t.set_text(c, cdef.idx("PostalCode"), Arc::from(zip));
        t.set_text(c, cdef.idx("Country"), Arc::from(country));
        if rng.random_bool(0.05) {
            t.set_text(
                c,
                cdef.idx("Description"),
                Arc::from(awkward_note(rng, ctx.cfg.multiline_text)),
            );
        }
        audit(t, c, &users);
        contacts.push(c);
    }
    // A few extra contacts are soft-deleted, some of them long enough ago to be purged.
    if rng.random_bool(0.02) {
        let t = store.table_mut(Kind::Contact);
        let c = t.push(created, created);
        t.set_ref(c, Kind::Contact.def().idx("AccountId"), Some(acc));
        t.set_text(c, Kind::Contact.def().idx("LastName"), Arc::from("Removed"));
        audit(t, c, &users);
        t.delete(c, now - rng.random_range(1..45) * DAY_MS);
    }

    let pm = {
        let pdef = Kind::PaymentMethod.def();
        let t = store.table_mut(Kind::PaymentMethod);
        let pm_created = created + rng.random_range(0..120_000);
        let pm = t.push(pm_created, updated_after(rng, pm_created, now));
        let ty = if rng.random_bool(0.7) {
            0
        } else {
            rng.random_range(1..4)
        };
        t.set_ref(pm, pdef.idx("AccountId"), Some(acc));
        t.set_pick(pm, pdef.idx("Type"), ty);
        if ty == 0 {
            t.set_pick(pm, pdef.idx("CreditCardType"), rng.random_range(0..4));
            t.set_text(
                pm,
                pdef.idx("CreditCardMaskNumber"),
                Arc::from(format!("************{:04}", rng.random_range(0..10_000)).as_str()),
            );
            t.set_i64(
                pm,
                pdef.idx("CreditCardExpirationMonth"),
                rng.random_range(1..13),
            );
            t.set_i64(
                pm,
                pdef.idx("CreditCardExpirationYear"),
                2026 + rng.random_range(0..6),
            );
        }
        t.set_pick(
            pm,
            pdef.idx("PaymentMethodStatus"),
            usize::from(rng.random_bool(0.03)),
        );
        t.set_i64(pm, pdef.idx("NumConsecutiveFailures"), 0);
        audit(t, pm, &users);
        pm
    };
    {
        let t = store.table_mut(Kind::Account);
        t.set_ref(acc, def.idx("BillToId"), contacts.first().copied());
        t.set_ref(acc, def.idx("SoldToId"), contacts.last().copied());
        t.set_ref(acc, def.idx("DefaultPaymentMethodId"), Some(pm));
    }

    let n_subs = match rng.random_range(0..100) {
        0..=9 => 0,
        10..=69 => 1,
        70..=94 => 2,
        _ => 3,
    };
    let mut total_balance = 0i64;
    let mut last_invoice_day = None;
    for _ in 0..n_subs {
        let billed = subscription_family(store, ctx, rng, acc, created, currency);
        if let Some((balance, day)) = billed {
            total_balance += balance;
            last_invoice_day = last_invoice_day.max(Some(day));
        }
    }
    let t = store.table_mut(Kind::Account);
    t.set_i64(acc, def.idx("Balance"), total_balance);
    t.set_i64(acc, def.idx("TotalInvoiceBalance"), total_balance);
    t.set_i64(acc, def.idx("CreditBalance"), 0);
    if let Some(d) = last_invoice_day {
        t.set_date(acc, def.idx("LastInvoiceDate"), d);
    }
    let _ = pm;
}

/// One subscription with its versions, amendments, rate plans, charges, tiers, invoices,
/// payments and usage. Returns the open balance and the last invoice date, if it was billed.
fn subscription_family(
    store: &mut Store,
    ctx: &mut Ctx,
    rng: &mut ChaCha8Rng,
    acc: Row,
    acc_created: i64,
    currency: usize,
) -> Option<(i64, i32)> {
    let now = ctx.cfg.now_ms;
    let users = ctx.users.clone();
    let sdef = Kind::Subscription.def();
    ctx.counters.subscription += 1;
    let sub_number: Arc<str> = Arc::from(
        format!(
            "A-S{:08}",
            ctx.cfg.number_offset + ctx.counters.subscription
        )
        .as_str(),
    );
    let start_ms = between(rng, acc_created, now - DAY_MS);
    let start_day = (start_ms / DAY_MS) as i32;
    let final_status = match rng.random_range(0..100) {
        0..=69 => 3,  // Active
        70..=79 => 4, // Cancelled
        80..=86 => 5, // Expired
        87..=91 => 0, // Draft
        92..=96 => 1, // PendingActivation
        _ => 2,       // PendingAcceptance
    };
    let evergreen = rng.random_bool(0.2);
    let versions = 1 + rng.random_range(0..3usize);
    let plan_indices: Vec<usize> = (0..1 + rng.random_range(0..2usize))
        .map(|_| rng.random_range(0..ctx.plans.len()))
        .collect();
    let mut previous: Option<Row> = None;
    let mut original: Option<Row> = None;
    let mut version_created = start_ms;
    let mut latest_charges: Vec<(Row, usize, usize)> = Vec::new();
    for v in 1..=versions {
        let is_last = v == versions;
        let t = store.table_mut(Kind::Subscription);
        let s = t.push(
            version_created,
            if is_last {
                updated_after(rng, version_created, now)
            } else {
                version_created
            },
        );
        t.set_ref(s, sdef.idx("AccountId"), Some(acc));
        t.set_text(s, sdef.idx("Name"), sub_number.clone());
        t.set_i64(s, sdef.idx("Version"), v as i64);
        t.set_ref(s, sdef.idx("OriginalId"), Some(original.unwrap_or(s)));
        t.set_ref(s, sdef.idx("PreviousSubscriptionId"), previous);
        // Superseded versions are Expired, as Zuora marks them.
        t.set_pick(
            s,
            sdef.idx("Status"),
            if is_last { final_status } else { 5 },
        );
        t.set_pick(s, sdef.idx("TermType"), usize::from(evergreen));
        if !evergreen {
            t.set_i64(s, sdef.idx("InitialTerm"), 12);
            t.set_i64(s, sdef.idx("RenewalTerm"), 12);
            t.set_date(s, sdef.idx("TermEndDate"), start_day + 365);
        }
        t.set_bool(s, sdef.idx("AutoRenew"), !evergreen && rng.random_bool(0.7));
        t.set_date(s, sdef.idx("TermStartDate"), start_day);
        t.set_date(s, sdef.idx("SubscriptionStartDate"), start_day);
        if final_status == 4 && is_last {
            let cancel = (start_day + rng.random_range(30..200)).min(ctx.now_day as i32);
            t.set_date(s, sdef.idx("CancelledDate"), cancel);
            t.set_date(s, sdef.idx("SubscriptionEndDate"), cancel);
        }
        t.set_date(s, sdef.idx("ContractEffectiveDate"), start_day);
        t.set_date(s, sdef.idx("ServiceActivationDate"), start_day);
        t.set_date(s, sdef.idx("ContractAcceptanceDate"), start_day);
        audit(t, s, &users);
        original.get_or_insert(s);

        let amendment = if v > 1 {
            ctx.counters.amendment += 1;
            let adef = Kind::Amendment.def();
            let t = store.table_mut(Kind::Amendment);
            let a = t.push(version_created, version_created);
            let ty = rng.random_range(0..5);
            t.set_ref(a, adef.idx("SubscriptionId"), Some(s));
            t.set_text(
                a,
                adef.idx("Code"),
                Arc::from(
                    format!("A-AM{:08}", ctx.cfg.number_offset + ctx.counters.amendment).as_str(),
                ),
            );
            t.set_text(
                a,
                adef.idx("Name"),
                Arc::from(format!("Amendment {v} of {sub_number}").as_str()),
            );
            t.set_pick(a, adef.idx("Type"), ty);
            t.set_pick(a, adef.idx("Status"), 3);
            let day = (version_created / DAY_MS) as i32;
            for f in [
                "ContractEffectiveDate",
                "EffectiveDate",
                "ServiceActivationDate",
                "CustomerAcceptanceDate",
            ] {
                t.set_date(a, adef.idx(f), day);
            }
            audit(t, a, &users);
            Some(a)
        } else {
            None
        };

        latest_charges.clear();
        for &pi in &plan_indices {
            let plan = &ctx.plans[pi];
            let rdef = Kind::RatePlan.def();
            let t = store.table_mut(Kind::RatePlan);
            let rp = t.push(version_created, version_created);
            t.set_ref(rp, rdef.idx("SubscriptionId"), Some(s));
            t.set_ref(rp, rdef.idx("ProductRatePlanId"), Some(plan.row));
            t.set_ref(rp, rdef.idx("AmendmentId"), amendment);
            t.set_text(rp, rdef.idx("Name"), plan.name.clone());
            if amendment.is_some() {
                t.set_pick(rp, rdef.idx("AmendmentType"), 1);
            }
            audit(t, rp, &users);
            for (ci, ch) in plan.charges.iter().enumerate() {
                ctx.counters.charge += 1;
                let cdef = Kind::RatePlanCharge.def();
                let t = store.table_mut(Kind::RatePlanCharge);
                let rpc = t.push(version_created, version_created);
                let qty = if ch.charge_type == 0 {
                    rng.random_range(1..50)
                } else {
                    1
                };
                let mrr = if ch.charge_type == 0 {
                    ch.price * qty / if ch.period == 2 { 12 } else { 1 }
                } else {
                    0
                };
                t.set_ref(rpc, cdef.idx("RatePlanId"), Some(rp));
                t.set_ref(rpc, cdef.idx("ProductRatePlanChargeId"), Some(ch.row));
                t.set_text(rpc, cdef.idx("Name"), ch.name.clone());
                t.set_text(
                    rpc,
                    cdef.idx("ChargeNumber"),
                    Arc::from(
                        format!(
                            "{}{:08}",
                            ch.number_prefix,
                            ctx.cfg.number_offset + ctx.counters.charge
                        )
                        .as_str(),
                    ),
                );
                t.set_pick(rpc, cdef.idx("ChargeType"), ch.charge_type);
                t.set_pick(rpc, cdef.idx("ChargeModel"), ch.model);
                t.set_pick(rpc, cdef.idx("BillingPeriod"), ch.period);
                t.set_i64(rpc, cdef.idx("Quantity"), qty * DEC_SCALE);
                t.set_text(rpc, cdef.idx("UOM"), ch.uom.clone());
                t.set_i64(rpc, cdef.idx("MRR"), mrr);
                t.set_i64(rpc, cdef.idx("TCV"), mrr * 12);
                t.set_i64(rpc, cdef.idx("DMRC"), mrr);
                t.set_i64(rpc, cdef.idx("DTCV"), mrr * 12);
                t.set_date(rpc, cdef.idx("EffectiveStartDate"), start_day);
                if !evergreen {
                    t.set_date(rpc, cdef.idx("EffectiveEndDate"), start_day + 365);
                }
                t.set_i64(rpc, cdef.idx("Version"), v as i64);
                t.set_i64(rpc, cdef.idx("Segment"), 1);
                t.set_bool(rpc, cdef.idx("IsLastSegment"), true);
                t.set_i64(rpc, cdef.idx("RolloverBalance"), 0);
                audit(t, rpc, &users);
                if ch.model == 2 {
                    for (tier, (start, end)) in [(0i64, Some(10i64)), (11, Some(100)), (101, None)]
                        .into_iter()
                        .enumerate()
                    {
                        let tdef = Kind::RatePlanChargeTier.def();
                        let t = store.table_mut(Kind::RatePlanChargeTier);
                        let tr = t.push(version_created, version_created);
                        t.set_ref(tr, tdef.idx("RatePlanChargeId"), Some(rpc));
                        t.set_pick(tr, tdef.idx("Currency"), currency);
                        t.set_i64(tr, tdef.idx("Tier"), tier as i64 + 1);
                        t.set_i64(tr, tdef.idx("StartingUnit"), start * DEC_SCALE);
                        if let Some(e) = end {
                            t.set_i64(tr, tdef.idx("EndingUnit"), e * DEC_SCALE);
                        }
                        t.set_i64(tr, tdef.idx("Price"), ch.price * (10 - tier as i64) / 10);
                        t.set_pick(tr, tdef.idx("PriceFormat"), 1);
                        audit(t, tr, &users);
                    }
                }
                latest_charges.push((rpc, pi, ci));
            }
        }
        previous = Some(s);
        if !is_last {
            version_created =
                between(rng, version_created + DAY_MS, now - DAY_MS / 2).max(version_created + 1);
        }
    }
    let latest = previous?;
    if !matches!(final_status, 3..=5) {
        return None;
    }
    Some(bill(
        store,
        ctx,
        rng,
        acc,
        latest,
        start_day,
        &latest_charges,
    ))
}

/// Monthly invoices for the last months of a subscription, with payments, refunds and usage.
fn bill(
    store: &mut Store,
    ctx: &mut Ctx,
    rng: &mut ChaCha8Rng,
    acc: Row,
    sub: Row,
    start_day: i32,
    charges: &[(Row, usize, usize)],
) -> (i64, i32) {
    let now = ctx.cfg.now_ms;
    let users = ctx.users.clone();
    let months_active = ((ctx.now_day as i32 - start_day) / 30).max(0) as usize;
    let n_invoices = months_active.min(4);
    let pm = store
        .table(Kind::Account)
        .get_ref(acc, Kind::Account.def().idx("DefaultPaymentMethodId"));
    let mut balance = 0;
    let mut last_day = start_day;
    for m in 0..n_invoices {
        let inv_day = ctx.now_day as i32 - 30 * (n_invoices - m) as i32 + 1;
        let inv_ms = i64::from(inv_day) * DAY_MS + rng.random_range(0..3_600_000);
        last_day = inv_day;
        ctx.counters.invoice += 1;
        let idef = Kind::Invoice.def();
        let draft = m + 1 == n_invoices && rng.random_bool(0.15);
        let inv = {
            let t = store.table_mut(Kind::Invoice);
            let inv = t.push(inv_ms, updated_after(rng, inv_ms, now));
            t.set_ref(inv, idef.idx("AccountId"), Some(acc));
            t.set_text(
                inv,
                idef.idx("InvoiceNumber"),
                Arc::from(
                    format!("INV{:08}", ctx.cfg.number_offset + ctx.counters.invoice).as_str(),
                ),
            );
            t.set_date(inv, idef.idx("InvoiceDate"), inv_day);
            t.set_date(inv, idef.idx("DueDate"), inv_day + 30);
            t.set_date(inv, idef.idx("TargetDate"), inv_day);
            t.set_pick(inv, idef.idx("Status"), usize::from(!draft));
            if !draft {
                t.set_i64(inv, idef.idx("PostedDate"), inv_ms + 60_000);
                t.set_text(inv, idef.idx("PostedBy"), users[0].clone());
            }
            t.set_pick(inv, idef.idx("Source"), 0);
            audit(t, inv, &users);
            inv
        };
        let mut amount = 0i64;
        let mut tax = 0i64;
        let (mut recurring, mut usage) = (false, false);
        for &(rpc, pi, ci) in charges {
            let ch = &ctx.plans[pi].charges[ci];
            if ch.charge_type == 1 && m > 0 {
                continue;
            }
            let qty = if ch.charge_type == 2 {
                rng.random_range(1..500)
            } else {
                1 + (rpc as i64 % 20)
            };
            let item_amount = ch.price * qty;
            let item_tax = item_amount / 10;
            amount += item_amount;
            tax += item_tax;
            recurring |= ch.charge_type == 0;
            usage |= ch.charge_type == 2;
            let tdef = Kind::InvoiceItem.def();
            let t = store.table_mut(Kind::InvoiceItem);
            let it = t.push(inv_ms, inv_ms);
            t.set_ref(it, tdef.idx("InvoiceId"), Some(inv));
            t.set_ref(it, tdef.idx("RatePlanChargeId"), Some(rpc));
            t.set_ref(it, tdef.idx("SubscriptionId"), Some(sub));
            t.set_i64(it, tdef.idx("ChargeAmount"), item_amount);
            t.set_i64(it, tdef.idx("ChargeDate"), inv_ms);
            t.set_text(it, tdef.idx("ChargeName"), ch.name.clone());
            t.set_text(
                it,
                tdef.idx("ChargeNumber"),
                Arc::from(format!("C-{:08}", rpc + 1).as_str()),
            );
            t.set_i64(it, tdef.idx("Quantity"), qty * DEC_SCALE);
            t.set_i64(it, tdef.idx("UnitPrice"), ch.price);
            t.set_text(it, tdef.idx("UOM"), ch.uom.clone());
            t.set_date(it, tdef.idx("ServiceStartDate"), inv_day);
            t.set_date(it, tdef.idx("ServiceEndDate"), inv_day + 29);
            t.set_pick(it, tdef.idx("ProcessingType"), 0);
            t.set_i64(it, tdef.idx("TaxAmount"), item_tax);
            t.set_text(it, tdef.idx("SKU"), ch.sku.clone());
            audit(t, it, &users);
            if ch.charge_type == 2 {
                usage_records(
                    store, rng, acc, sub, rpc, inv_day, qty, &ch.uom, &users, now,
                );
            }
        }
        let total = amount + tax;
        let paid = !draft && inv_day + 3 < ctx.now_day as i32 && rng.random_bool(0.85);
        {
            let t = store.table_mut(Kind::Invoice);
            t.set_i64(inv, idef.idx("Amount"), total);
            t.set_i64(inv, idef.idx("AmountWithoutTax"), amount);
            t.set_i64(inv, idef.idx("TaxAmount"), tax);
            t.set_i64(inv, idef.idx("Balance"), if paid { 0 } else { total });
            t.set_i64(inv, idef.idx("PaymentAmount"), if paid { total } else { 0 });
            t.set_i64(inv, idef.idx("RefundAmount"), 0);
            t.set_bool(inv, idef.idx("IncludesOneTime"), m == 0);
            t.set_bool(inv, idef.idx("IncludesRecurring"), recurring);
            t.set_bool(inv, idef.idx("IncludesUsage"), usage);
        }
        if !paid {
            if !draft {
                balance += total;
            }
            continue;
        }
        ctx.counters.payment += 1;
        let pay_ms = inv_ms + rng.random_range(1..4) * DAY_MS;
        let pdef = Kind::Payment.def();
        let pay = {
            let t = store.table_mut(Kind::Payment);
            let p = t.push(pay_ms, updated_after(rng, pay_ms, now));
            t.set_ref(p, pdef.idx("AccountId"), Some(acc));
            t.set_text(
                p,
                pdef.idx("PaymentNumber"),
                Arc::from(
                    format!("P-{:08}", ctx.cfg.number_offset + ctx.counters.payment).as_str(),
                ),
            );
            t.set_i64(p, pdef.idx("Amount"), total);
            t.set_i64(p, pdef.idx("AppliedAmount"), total);
            t.set_i64(p, pdef.idx("UnappliedAmount"), 0);
            t.set_i64(p, pdef.idx("RefundAmount"), 0);
            t.set_date(p, pdef.idx("EffectiveDate"), (pay_ms / DAY_MS) as i32);
            t.set_pick(p, pdef.idx("Status"), 2);
            t.set_pick(p, pdef.idx("Type"), 1);
            t.set_ref(p, pdef.idx("PaymentMethodId"), pm);
            t.set_text(
                p,
                pdef.idx("ReferenceId"),
                Arc::from(format!("ch_{:016x}", rng.random::<u64>()).as_str()),
            );
            t.set_pick(p, pdef.idx("GatewayState"), 2);
            audit(t, p, &users);
            p
        };
        let ipdef = Kind::InvoicePayment.def();
        let t = store.table_mut(Kind::InvoicePayment);
        let ip = t.push(pay_ms, pay_ms);
        t.set_ref(ip, ipdef.idx("InvoiceId"), Some(inv));
        t.set_ref(ip, ipdef.idx("PaymentId"), Some(pay));
        t.set_i64(ip, ipdef.idx("Amount"), total);
        t.set_i64(ip, ipdef.idx("RefundAmount"), 0);
        audit(t, ip, &users);
        if rng.random_bool(0.03) {
            ctx.counters.refund += 1;
            let refund_ms = between(rng, pay_ms + DAY_MS, now);
            let rdef = Kind::Refund.def();
            let t = store.table_mut(Kind::Refund);
            let r = t.push(refund_ms, refund_ms);
            t.set_ref(r, rdef.idx("AccountId"), Some(acc));
            t.set_ref(r, rdef.idx("PaymentMethodId"), pm);
            t.set_text(
                r,
                rdef.idx("RefundNumber"),
                Arc::from(format!("R-{:08}", ctx.cfg.number_offset + ctx.counters.refund).as_str()),
            );
            t.set_i64(r, rdef.idx("Amount"), total / 2);
            t.set_date(r, rdef.idx("RefundDate"), (refund_ms / DAY_MS) as i32);
            t.set_pick(r, rdef.idx("Status"), 1);
            t.set_pick(r, rdef.idx("Type"), 0);
            t.set_pick(r, rdef.idx("SourceType"), 0);
            t.set_text(
                r,
                rdef.idx("ReasonCode"),
                Arc::from("Customer Satisfaction"),
            );
            t.set_i64(r, rdef.idx("RefundTransactionTime"), refund_ms);
            audit(t, r, &users);
        }
    }
    (balance, last_day)
}

#[allow(clippy::too_many_arguments)]
fn usage_records(
    store: &mut Store,
    rng: &mut ChaCha8Rng,
    acc: Row,
    sub: Row,
    charge: Row,
    day: i32,
    qty: i64,
    uom: &Arc<str>,
    users: &[Arc<str>],
    now: i64,
) {
    let account_number: Arc<str> = match store
        .table(Kind::Account)
        .get(acc, Kind::Account.def().idx("AccountNumber"))
    {
        super::store::Value::Str(s) => Arc::from(s.as_ref()),
        _ => Arc::from(""),
    };
    let udef = Kind::Usage.def();
    for part in 0..2 {
        let start = i64::from(day - 30 + part * 15) * DAY_MS;
        let t = store.table_mut(Kind::Usage);
        let u = t.push(start + 15 * DAY_MS, start + 15 * DAY_MS);
        t.set_ref(u, udef.idx("AccountId"), Some(acc));
        t.set_ref(u, udef.idx("SubscriptionId"), Some(sub));
        t.set_ref(u, udef.idx("ChargeId"), Some(charge));
        t.set_text(u, udef.idx("AccountNumber"), account_number.clone());
        t.set_i64(u, udef.idx("Quantity"), qty * DEC_SCALE / 2);
        t.set_text(u, udef.idx("UOM"), uom.clone());
        t.set_i64(u, udef.idx("StartDateTime"), start);
        t.set_i64(u, udef.idx("EndDateTime"), start + 15 * DAY_MS - 1000);
        t.set_i64(u, udef.idx("SubmissionDateTime"), start + 15 * DAY_MS);
        t.set_pick(u, udef.idx("Status"), 2);
        audit(t, u, users);
        if rng.random_bool(0.01) {
            t.delete(u, now - rng.random_range(1..40) * DAY_MS);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zuora::store::IdCodec;

    fn gen_store(seed: u64, accounts: usize) -> Store {
        let mut s = Store::new(IdCodec::new(0x2c92_c0f8, 0));
        generate(
            &mut s,
            &GenConfig {
                seed,
                accounts,
                crm_share: 0.5,
                now_ms: 1_793_491_200_000,
                number_offset: 0,
                multiline_text: true,
            },
        );
        s
    }

    #[test]
    fn same_seed_same_tenant_other_seed_other_tenant() {
        let a = gen_store(7, 50);
        let b = gen_store(7, 50);
        let c = gen_store(8, 50);
        assert_eq!(a.counts(), b.counts());
        let name = Kind::Account.def().idx("Name");
        let names = |s: &Store| {
            (0..50)
                .map(|r| s.table(Kind::Account).get(r, name).into_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&a), names(&b));
        assert_ne!(names(&a), names(&c));
    }

    #[test]
    fn every_object_gets_rows_and_dates_are_not_in_the_future() {
        let s = gen_store(42, 200);
        // Synthetic objects are filled on request only (see `synthetic`).
        for t in s.tables.iter().filter(|t| !t.kind.def().synthetic) {
            assert!(!t.is_empty(), "{} is empty", t.kind.def().name);
            for r in 0..t.len() as Row {
                assert!(
                    t.updated(r) <= 1_793_491_200_000,
                    "{} row {r} updated in the future",
                    t.kind.def().name
                );
                assert!(t.created(r) <= t.updated(r));
            }
        }
        let crm = Kind::Account.def().idx("CrmId");
        let with_crm = (0..200)
            .filter(|&r| !s.table(Kind::Account).get(r, crm).is_null())
            .count();
        assert!((60..140).contains(&with_crm), "CrmId share off: {with_crm}");
    }

    #[test]
    fn crm_ids_carry_a_valid_checksum_suffix() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let id = crm_id(&mut rng);
        assert_eq!(id.len(), 18);
        assert!(id.starts_with("001"));
    }
}
