//! Tests of the filter language: unit tests pinning each path, and property tests tying them
//! together.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::schema::{Field, FieldType, TableSchema, ValueKind};
use crate::value::Value;

// ---------------------------------------------------------------------------------------------
// Fixtures

fn account() -> TableSchema {
    let mut notes = Field::new("Notes", FieldType::LongText);
    notes.filterable = false;
    TableSchema::new(
        "Account",
        vec![
            Field::new("Id", FieldType::Text),
            Field::new("Name", FieldType::Text),
            Field::new("Status", FieldType::Picklist),
            Field::new("Balance", FieldType::parse("decimal")),
            Field::new("BillCycleDay", FieldType::Integer),
            Field::new("AutoPay", FieldType::Boolean),
            Field::new("CreatedDate", FieldType::DateTime),
            Field::new("UpdatedDate", FieldType::DateTime),
            Field::new("InvoiceDate", FieldType::Date),
            Field::new("Geo", FieldType::parse("geography")),
            Field::new("Order", FieldType::Text),
            notes,
        ],
    )
}

fn contact() -> TableSchema {
    TableSchema::new(
        "Contact",
        vec![
            Field::new("FirstName", FieldType::Text),
            Field::new("Country", FieldType::Text),
        ],
    )
}

fn with_schemas<T>(f: impl FnOnce(&JoinedSchema<'_>) -> T) -> T {
    let (account, contact) = (account(), contact());
    let resolver = JoinedSchema {
        base: &account,
        joined: vec![("BillToContact".into(), &contact)],
    };
    f(&resolver)
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn p(text: &str) -> Expr {
    parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn record(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Parsing and the canonical form

#[test]
fn parses_the_whole_grammar() {
    let expr = p(
        "status = 'Active' and (Balance > 100.5 or BillToContact.Country in ('US', 'CA')) \
                  AND UpdatedDate >= TIMESTAMP '2026-08-04T20:11:15+1000' AND Name NOT LIKE 'Test%' \
                  AND \"Order\" IS NOT NULL AND not AutoPay = true AND InvoiceDate <> DATE '2026-01-31'",
    );
    let Expr::And(parts) = &expr else {
        panic!("{expr:?}")
    };
    assert_eq!(parts.len(), 7);
    assert_eq!(
        parts[2],
        Expr::compare(
            Column::new("UpdatedDate"),
            CmpOp::Ge,
            Value::datetime(utc(2026, 8, 4, 10, 11, 15))
        )
    );
    assert_eq!(
        expr.to_string(),
        "status = 'Active' AND (Balance > 100.5 OR BillToContact.Country IN ('US', 'CA')) \
         AND UpdatedDate >= TIMESTAMP '2026-08-04T10:11:15Z' AND Name NOT LIKE 'Test%' \
         AND Order IS NOT NULL AND NOT AutoPay = TRUE AND InvoiceDate != DATE '2026-01-31'"
    );
}

#[test]
fn literals_and_identifiers() {
    assert_eq!(
        p("x = 'it''s'"),
        Expr::compare(Column::new("x"), CmpOp::Eq, Value::Text("it's".into()))
    );
    assert_eq!(
        p("x = -5"),
        Expr::compare(Column::new("x"), CmpOp::Eq, Value::Integer(-5))
    );
    assert_eq!(
        p("x = 99999999999999999999"),
        Expr::compare(
            Column::new("x"),
            CmpOp::Eq,
            Value::Decimal(dec("99999999999999999999"))
        )
    );
    assert_eq!(
        p("x = NULL"),
        Expr::compare(Column::new("x"), CmpOp::Eq, Value::Null)
    );
    assert_eq!(
        p("\"we\"\"ird\".\"a b\" = 1"),
        Expr::compare(
            Column::qualified("we\"ird", "a b"),
            CmpOp::Eq,
            Value::Integer(1)
        )
    );
    // DATE and TIMESTAMP are column names unless a string follows.
    assert_eq!(
        p("date = 1"),
        Expr::compare(Column::new("date"), CmpOp::Eq, Value::Integer(1))
    );
    assert_eq!(Column::new("date").to_string(), "\"date\"");
    assert_eq!(Column::new("a b").to_string(), "\"a b\"");
    assert_eq!(
        p("a = 1 or b = 2 and c = 3").to_string(),
        "a = 1 OR b = 2 AND c = 3"
    );
    assert_eq!(
        p("(a = 1 or b = 2) and c = 3").to_string(),
        "(a = 1 OR b = 2) AND c = 3"
    );
    assert_eq!(
        p("a = 1 and (b = 2 and c = 3)").to_string(),
        "a = 1 AND (b = 2 AND c = 3)"
    );
    assert_eq!(p("x = 5.00").to_string(), "x = 5.00");
}

#[test]
fn syntax_errors_say_where_and_what() {
    let cases = [
        (
            "Name = ",
            "syntax error at column 8: expected a column or a value after '=', found end of input",
        ),
        (
            "Name 'x'",
            "syntax error at column 6: expected a comparison operator, [NOT] IN, [NOT] LIKE or IS [NOT] NULL, found string 'x'",
        ),
        (
            "Name = 'abc",
            "syntax error at column 12: expected a closing ' for the string opened at column 8, found end of input",
        ),
        (
            "(a = 1",
            "syntax error at column 7: expected ')' or AND/OR inside the parentheses, found end of input",
        ),
        (
            "a = 1)",
            "syntax error at column 6: expected an operator such as AND, or the end (unbalanced ')'), found ')'",
        ),
        (
            "a IN ()",
            "syntax error at column 7: expected a value in the IN list, found ')'",
        ),
        (
            "a LIKE b",
            "syntax error at column 8: expected a quoted pattern after LIKE, found 'b'",
        ),
        (
            "a IS 5",
            "syntax error at column 6: expected NULL or NOT NULL after IS, found number 5",
        ),
        (
            "a = 1 AND",
            "syntax error at column 10: expected a condition (a column or a value), found end of input",
        ),
        (
            "a = 1 b = 2",
            "syntax error at column 7: expected AND, OR or the end of the filter, found 'b'",
        ),
        (
            "5 IN (1)",
            "syntax error at column 1: expected a column before IN, found a value",
        ),
        (
            "a = 1.",
            "syntax error at column 7: expected digits after the decimal point, found end of input",
        ),
        (
            "a ~ 1",
            "syntax error at column 3: expected a column, a value, an operator or a parenthesis, found '~'",
        ),
        (
            "a = and",
            "syntax error at column 5: expected a column or a value after '=', found 'and'",
        ),
    ];
    for (text, message) in cases {
        assert_eq!(parse(text).unwrap_err().to_string(), message, "{text}");
    }
    let err = parse("t > TIMESTAMP '2026-13-01T00:00:00Z'")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("syntax error at column 15: expected a valid TIMESTAMP literal"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Binding and coercion

#[test]
fn binding_coerces_strings_once_for_every_path() {
    with_schemas(|schema| {
        let bound = bind(
            &p("updateddate >= '2026-08-04 20:11:15+1000' AND '100' < balance AND autopay = 'TRUE' \
                AND invoicedate = '2026-01-31' AND account.billcycleday IN ('1', 2)"),
            schema,
        )
        .unwrap();
        assert_eq!(
            bound.to_string(),
            "UpdatedDate >= TIMESTAMP '2026-08-04T10:11:15Z' AND Balance > 100 AND AutoPay = TRUE \
             AND InvoiceDate = DATE '2026-01-31' AND BillCycleDay IN (1, 2)"
        );
        // A DATE literal against a datetime column means midnight UTC.
        let bound = bind(&p("CreatedDate < DATE '2026-02-01'"), schema).unwrap();
        assert_eq!(
            bound.to_string(),
            "CreatedDate < TIMESTAMP '2026-02-01T00:00:00Z'"
        );
    });
}

#[test]
fn binding_errors_are_loud() {
    with_schemas(|schema| {
        let err = |text: &str| bind(&p(text), schema).unwrap_err().to_string();
        assert_eq!(err("Nope = 1"), "unknown column Nope");
        assert_eq!(err("Shipping.City = 'x'"), "unknown column Shipping.City");
        assert_eq!(err("Name = 5"), "cannot compare text with integer 5");
        assert_eq!(
            err("BillCycleDay LIKE '1%'"),
            "cannot compare integer column BillCycleDay with a LIKE pattern (LIKE needs a text column)"
        );
        assert_eq!(
            err("Name = Balance"),
            "cannot compare text column Name with decimal column Balance"
        );
        assert!(err("Balance > 'lots'").starts_with("literal \"lots\" is not a valid decimal"));
        assert!(
            err("InvoiceDate = TIMESTAMP '2026-01-01T00:00:00Z'")
                .starts_with("cannot compare date with datetime TIMESTAMP")
        );
        assert_eq!(
            err("Geo IS NULL"),
            "column Geo has unknown type 'geography' and cannot be filtered on"
        );
        assert!(err("UpdatedDate > '2026-08-04T25:00:00Z'").contains("is not a valid datetime"));
    });
}

// ---------------------------------------------------------------------------------------------
// Rendering

#[test]
fn trino_rendering_is_pinned() {
    with_schemas(|schema| {
        let sql = to_trino_sql(
            &p("UpdatedDate >= '2026-08-01T00:00:00Z' AND UpdatedDate < TIMESTAMP '2026-08-02 00:00:00.250 +00:00' \
                AND (Name = 'O''Brien' OR Status IN ('Active', 'Draft')) AND NOT Balance <= -1.50 \
                AND \"Order\" NOT LIKE '%x_' AND InvoiceDate IS NULL AND AutoPay = true AND id != '1'"),
            schema,
        )
        .unwrap();
        assert_eq!(
            sql,
            "updateddate >= TIMESTAMP '2026-08-01 00:00:00 +00:00' \
             AND updateddate < TIMESTAMP '2026-08-02 00:00:00.250 +00:00' \
             AND (name = 'O''Brien' OR status IN ('Active', 'Draft')) AND NOT (balance <= -1.50) \
             AND \"order\" NOT LIKE '%x_' AND invoicedate IS NULL AND autopay = TRUE AND id != '1'"
        );
        let err = to_trino_sql(&p("BillToContact.Country = 'US'"), schema).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Data Query cannot express the joined column BillToContact.Country (a Data Query filter is over one table)"
        );
    });
}

#[test]
fn export_zoql_rendering_is_pinned() {
    with_schemas(|schema| {
        let zoql = to_export_zoql(
            &p("UpdatedDate >= '2026-08-01 00:00:00Z' AND UpdatedDate < DATE '2026-08-02' \
                AND Status IN ('Active', 'Draft') AND BillCycleDay NOT IN (1, 2) AND Name LIKE 'Acme%' \
                AND BillToContact.Country = 'US' AND InvoiceDate = '2026-01-31' AND account.AutoPay != false \
                AND (Balance > 0 OR Id IS NULL)"),
            schema,
        )
        .unwrap();
        assert_eq!(
            zoql,
            "UpdatedDate >= '2026-08-01T00:00:00Z' and UpdatedDate < '2026-08-02T00:00:00Z' \
             and (Status = 'Active' or Status = 'Draft') and (BillCycleDay != 1 and BillCycleDay != 2) \
             and Name like 'Acme%' and BillToContact.Country = 'US' and InvoiceDate = '2026-01-31' \
             and AutoPay != false and (Balance > 0 or Id is null)"
        );
        assert!(!zoql.contains("00:00:00'") || zoql.contains("T00:00:00Z'"));
        let err = |text: &str| to_export_zoql(&p(text), schema).unwrap_err().to_string();
        assert_eq!(
            err("Name LIKE '%Acme%'"),
            "Export ZOQL cannot express the LIKE pattern '%Acme%' (% only once, at the start or the end)"
        );
        assert_eq!(
            err("Name LIKE 'A%e'"),
            "Export ZOQL cannot express the LIKE pattern 'A%e' (% only once, at the start or the end)"
        );
        assert!(err("UpdatedDate > '2026-08-01T00:00:00.5Z'").contains("whole seconds"));
        assert!(err("Name = NULL").contains("use IS NULL"));
        assert!(err("Name = 'a\\b'").contains("backslashes"));
        assert_eq!(
            to_export_zoql(&p("Name LIKE '_cme%'"), schema).unwrap(),
            "Name like '_cme%'"
        );
    });
}

// ---------------------------------------------------------------------------------------------
// Planning

fn split_text(text: &str, dialect: Dialect) -> (Option<String>, Option<String>) {
    with_schemas(|schema| {
        let split = split(&p(text), dialect, schema).unwrap();
        (
            split.pushed.map(|e| e.to_string()),
            split.local.map(|e| e.to_string()),
        )
    })
}

#[test]
fn data_query_pushes_all_but_joins_and_unfilterable_columns() {
    assert_eq!(
        split_text(
            "Name LIKE '%a%' AND NOT (Balance > 1 OR Status != 'x') AND BillToContact.Country = 'US' \
             AND (Id = '1' OR BillToContact.FirstName = 'A') AND Notes = 'n'",
            Dialect::DataQuery
        ),
        (
            Some("Name LIKE '%a%' AND NOT (Balance > 1 OR Status != 'x')".into()),
            Some("BillToContact.Country = 'US' AND (Id = '1' OR BillToContact.FirstName = 'A') AND Notes = 'n'".into())
        )
    );
}

#[test]
fn export_zoql_splits_by_the_documented_rules() {
    let cases: &[(&str, Option<&str>, Option<&str>)] = &[
        // Exact: numbers, half-open whole-second windows.
        (
            "Balance > 1 AND UpdatedDate >= '2026-08-01T00:00:00Z' AND UpdatedDate < '2026-08-02T00:00:00Z'",
            Some(
                "Balance > 1 AND UpdatedDate >= TIMESTAMP '2026-08-01T00:00:00Z' AND UpdatedDate < TIMESTAMP '2026-08-02T00:00:00Z'",
            ),
            None,
        ),
        // > on a datetime is pushed as >= and re-checked.
        (
            "UpdatedDate > '2026-08-01T00:00:00Z'",
            Some("UpdatedDate >= TIMESTAMP '2026-08-01T00:00:00Z'"),
            Some("UpdatedDate > TIMESTAMP '2026-08-01T00:00:00Z'"),
        ),
        // Sub-second literals and != on datetimes stay local.
        (
            "UpdatedDate < '2026-08-01T00:00:00.5Z'",
            None,
            Some("UpdatedDate < TIMESTAMP '2026-08-01T00:00:00.500Z'"),
        ),
        // Text equality and LIKE are pushed and re-checked; text ordering and NOT LIKE are local.
        (
            "Name = 'Acme'",
            Some("Name = 'Acme'"),
            Some("Name = 'Acme'"),
        ),
        (
            "Name LIKE 'Ac%' AND Name > 'B'",
            Some("Name LIKE 'Ac%'"),
            Some("Name LIKE 'Ac%' AND Name > 'B'"),
        ),
        (
            "Name LIKE '%c%' AND Name NOT LIKE 'A%'",
            None,
            Some("Name LIKE '%c%' AND Name NOT LIKE 'A%'"),
        ),
        // IN expands; NOT IN of numbers is superset (ZOQL's != and NULLs); of text local.
        (
            "BillCycleDay IN (1, 2)",
            Some("BillCycleDay IN (1, 2)"),
            None,
        ),
        (
            "BillCycleDay NOT IN (1, 2)",
            Some("BillCycleDay NOT IN (1, 2)"),
            Some("BillCycleDay NOT IN (1, 2)"),
        ),
        ("Status NOT IN ('a')", None, Some("Status NOT IN ('a')")),
        (
            "BillCycleDay IN (1, NULL)",
            None,
            Some("BillCycleDay IN (1, NULL)"),
        ),
        // Joined objects: simple comparisons only.
        (
            "BillToContact.Country = 'US' AND BillToContact.FirstName LIKE 'A%'",
            Some("BillToContact.Country = 'US'"),
            Some("BillToContact.Country = 'US' AND BillToContact.FirstName LIKE 'A%'"),
        ),
        // OR with a local branch stays local; AND under OR is weakened.
        (
            "Balance > 1 OR Name > 'x'",
            None,
            Some("Balance > 1 OR Name > 'x'"),
        ),
        (
            "Balance > 1 OR (BillCycleDay = 2 AND Name > 'x')",
            Some("Balance > 1 OR BillCycleDay = 2"),
            Some("Balance > 1 OR BillCycleDay = 2 AND Name > 'x'"),
        ),
        // NOT, field-to-field and constant comparisons stay local.
        ("NOT Balance > 1", None, Some("NOT Balance > 1")),
        (
            "Balance > BillCycleDay",
            None,
            Some("Balance > BillCycleDay"),
        ),
        ("1 = 1", None, Some("1 = 1")),
        // Booleans allow only = and !=.
        (
            "AutoPay = true AND AutoPay > false",
            Some("AutoPay = TRUE"),
            Some("AutoPay > FALSE"),
        ),
        // IS NULL: exact except on text.
        (
            "Balance IS NULL AND Name IS NOT NULL",
            Some("Balance IS NULL"),
            Some("Name IS NOT NULL"),
        ),
    ];
    for (text, pushed, local) in cases {
        let expected = (pushed.map(str::to_owned), local.map(str::to_owned));
        assert_eq!(split_text(text, Dialect::ExportZoql), expected, "{text}");
    }
}

#[test]
fn plain_zoql_keeps_joins_local_and_caps_conditions() {
    assert_eq!(
        split_text(
            "BillToContact.Country = 'US' AND Balance > 1",
            Dialect::Zoql
        ),
        (
            Some("Balance > 1".into()),
            Some("BillToContact.Country = 'US'".into())
        )
    );
    let many: Vec<String> = (0..150).map(|i| format!("BillCycleDay != {i}")).collect();
    let text = format!(
        "BillCycleDay IN ({}) AND {}",
        (0..100)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        many.join(" AND ")
    );
    with_schemas(|schema| {
        let split = split(&p(&text), Dialect::Zoql, schema).unwrap();
        let Some(Expr::And(pushed)) = split.pushed else {
            panic!("nothing pushed")
        };
        // 100 conditions from the IN list, then 100 of the 150 != conditions.
        assert_eq!(pushed.len(), 101);
        assert!(to_export_zoql(&Expr::And(pushed), schema).is_ok());
    });
}

// ---------------------------------------------------------------------------------------------
// Evaluation

#[test]
fn three_valued_logic() {
    let row = record(&[
        ("a", Value::Integer(1)),
        ("n", Value::Null),
        ("t", Value::Text("x".into())),
    ]);
    let check = |text: &str| eval3(&p(text), &row).unwrap();
    assert_eq!(check("n = 1"), None);
    assert_eq!(check("n != 1"), None);
    assert_eq!(check("NOT n = 1"), None);
    assert_eq!(check("n = 1 OR a = 1"), Some(true));
    assert_eq!(check("n = 1 AND a = 2"), Some(false));
    assert_eq!(check("n = 1 AND a = 1"), None);
    assert_eq!(check("a IN (2, NULL)"), None);
    assert_eq!(check("a IN (1, NULL)"), Some(true));
    assert_eq!(check("a NOT IN (2, NULL)"), None);
    assert_eq!(check("a NOT IN (2, 3)"), Some(true));
    assert_eq!(check("n IN (1)"), None);
    assert_eq!(check("n IS NULL"), Some(true));
    assert_eq!(check("a IS NOT NULL"), Some(true));
    assert_eq!(check("n LIKE '%'"), None);
    assert_eq!(check("a = NULL"), None);
    // Unknown filters the row out.
    assert!(!eval(&p("n != 1"), &row).unwrap());
    assert!(!eval(&p("NOT n = 1"), &row).unwrap());
    assert_eq!(
        eval(&p("missing = 1"), &row).unwrap_err().to_string(),
        "the record has no column missing"
    );
}

#[test]
fn comparisons_and_coercions() {
    let row = record(&[
        ("i", Value::Integer(5)),
        ("d", Value::Decimal(dec("5.00"))),
        ("t", Value::Text("abc".into())),
        ("b", Value::Bool(true)),
        (
            "day",
            Value::Date(NaiveDate::from_ymd_opt(2026, 1, 31).unwrap()),
        ),
        (
            "ts",
            Value::datetime(utc(2026, 8, 4, 10, 11, 15) + Duration::milliseconds(500)),
        ),
    ]);
    let yes = |text: &str| assert!(eval(&p(text), &row).unwrap(), "{text}");
    let no = |text: &str| assert!(!eval(&p(text), &row).unwrap(), "{text}");
    yes("i = d");
    yes("i = 5.0 AND d = 5 AND d = '5' AND i = '5.000'");
    yes("t > 'ab' AND t < 'abd' AND t != 'ABC'");
    no("t = 'ABC'");
    yes("'B' < 'a'"); // code point order: upper case sorts first
    yes("b = 'true' AND b = TRUE AND b > false");
    yes("day = '2026-01-31' AND day > DATE '2026-01-30'");
    yes("ts > '2026-08-04T20:11:15+1000' AND ts < '2026-08-04 10:11:16Z'");
    yes("ts >= DATE '2026-08-04' AND ts < DATE '2026-08-05'");
    no("ts = TIMESTAMP '2026-08-04T10:11:15Z'");
    let err = eval(&p("i = 'five'"), &row).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("literal \"five\" is not a valid integer"),
        "{err}"
    );
    assert_eq!(
        eval(&p("t = 5"), &row).unwrap_err().to_string(),
        "cannot compare text with integer 5"
    );
    assert!(eval(&p("i LIKE '5'"), &row).is_err());
}

#[test]
fn like_semantics() {
    let cases = [
        ("abc", "abc", true),
        ("abc", "ABC", false),
        ("abc", "a%", true),
        ("abc", "%c", true),
        ("abc", "%b%", true),
        ("abc", "a_c", true),
        ("abc", "a_", false),
        ("abc", "%", true),
        ("", "%", true),
        ("", "_", false),
        ("", "", true),
        ("abc", "", false),
        ("a%c", "a%c", true),
        ("aXbXc", "a%b%c", true),
        ("aXbX", "a%b%c", false),
        ("ééx", "__x", true),
        ("mississippi", "%iss%ppi", true),
        ("mississippi", "m%s_i%i", true),
    ];
    for (text, pattern, expected) in cases {
        assert_eq!(like(text, pattern), expected, "{text:?} LIKE {pattern:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Property tests

/// A straightforward recursive LIKE, the oracle for the iterative one.
fn like_oracle(text: &[char], pattern: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('%', rest)) => (0..=text.len()).any(|i| like_oracle(&text[i..], rest)),
        Some((&c, rest)) => text
            .split_first()
            .is_some_and(|(&t, tail)| (c == '_' || c == t) && like_oracle(tail, rest)),
    }
}

fn any_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Integer),
        (any::<i64>(), 0u32..=12).prop_map(|(m, s)| Value::Decimal(Decimal::new(m, s))),
        "\\PC{0,12}".prop_map(Value::Text),
        "[ a-z'\"%_\\\\\n]{0,8}".prop_map(Value::Text),
        (-200_000i32..200_000)
            .prop_map(|d| Value::Date(NaiveDate::from_num_days_from_ce_opt(730_000 + d).unwrap())),
        (0i64..4_102_444_800, 0u32..1_000_000_000)
            .prop_map(|(s, n)| Value::datetime(Utc.timestamp_opt(s, n).unwrap())),
    ]
}

fn any_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z_][A-Za-z0-9_]{0,6}",
        Just("date".to_owned()),
        Just("AND".to_owned()),
        Just("Null".to_owned()),
        "[^\u{0}]{1,6}",
    ]
}

fn any_column() -> impl Strategy<Value = Column> {
    (proptest::option::of(any_name()), any_name())
        .prop_map(|(relation, name)| Column { relation, name })
}

fn any_cmp() -> impl Strategy<Value = CmpOp> {
    prop_oneof![
        Just(CmpOp::Eq),
        Just(CmpOp::Ne),
        Just(CmpOp::Lt),
        Just(CmpOp::Le),
        Just(CmpOp::Gt),
        Just(CmpOp::Ge)
    ]
}

fn any_operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        any_column().prop_map(Operand::Column),
        any_value().prop_map(Operand::Literal)
    ]
}

fn any_expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        (any_operand(), any_cmp(), any_operand()).prop_map(|(left, op, right)| Expr::Compare {
            left,
            op,
            right
        }),
        (
            any_column(),
            proptest::collection::vec(any_value(), 1..4),
            any::<bool>()
        )
            .prop_map(|(column, list, negated)| Expr::In {
                column,
                list,
                negated
            }),
        (any_column(), "\\PC{0,8}", any::<bool>()).prop_map(|(column, pattern, negated)| {
            Expr::Like {
                column,
                pattern,
                negated,
            }
        }),
        (any_column(), any::<bool>())
            .prop_map(|(column, negated)| Expr::IsNull { column, negated }),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Expr::Or),
            inner.prop_map(|e| Expr::Not(Box::new(e))),
        ]
    })
}

// Typed columns for the semantic properties: (key, kind, joined, filterable).
const COLUMNS: &[(&str, ValueKind, bool, bool)] = &[
    ("t", ValueKind::Text, false, true),
    ("b", ValueKind::Boolean, false, true),
    ("i", ValueKind::Integer, false, true),
    ("d", ValueKind::Decimal, false, true),
    ("dt", ValueKind::Date, false, true),
    ("ts", ValueKind::DateTime, false, true),
    ("nf", ValueKind::Integer, false, false),
    ("rel.t", ValueKind::Text, true, true),
    ("rel.i", ValueKind::Integer, true, true),
];

fn column_of(key: &str) -> Column {
    match key.split_once('.') {
        Some((relation, name)) => Column::qualified(relation, name),
        None => Column::new(key),
    }
}

fn typed_resolver(column: &Column) -> Result<ColumnInfo, FilterError> {
    let key = column.key();
    let (name, kind, joined, filterable) = COLUMNS
        .iter()
        .find(|(name, ..)| *name == key)
        .ok_or_else(|| FilterError::UnknownColumn(column.to_string()))?;
    Ok(ColumnInfo {
        column: column_of(name),
        kind: *kind,
        filterable: *filterable,
        joined: *joined,
    })
}

const TEXTS: &[&str] = &["", "a", "A", "ab", "aB", "b", "ba", "a%b", "_"];
const PATTERNS: &[&str] = &[
    "a%", "%a", "%", "a_", "_", "%a%", "a%b", "A%", "", "ab", "_b%",
];

fn base_time() -> DateTime<Utc> {
    utc(2026, 1, 1, 0, 0, 0)
}

/// A value of a kind, from small pools so that equal values are common.
fn typed_value(kind: ValueKind) -> BoxedStrategy<Value> {
    let value = match kind {
        ValueKind::Text => proptest::sample::select(TEXTS)
            .prop_map(|t| Value::Text(t.into()))
            .boxed(),
        ValueKind::Boolean => any::<bool>().prop_map(Value::Bool).boxed(),
        ValueKind::Integer => (-2i64..3).prop_map(Value::Integer).boxed(),
        ValueKind::Decimal => {
            proptest::sample::select(&["-1.5", "0", "0.50", "1", "1.00", "2.25"][..])
                .prop_map(|d| Value::Decimal(dec(d)))
                .boxed()
        }
        ValueKind::Date => (0i64..3)
            .prop_map(|d| Value::Date(base_time().date_naive() + Duration::days(d)))
            .boxed(),
        ValueKind::DateTime => {
            proptest::sample::select(&[0i64, 500, 1000, 1500, 2000, 86_400_000][..])
                .prop_map(|ms| Value::datetime(base_time() + Duration::milliseconds(ms)))
                .boxed()
        }
    };
    prop_oneof![1 => Just(Value::Null), 5 => value].boxed()
}

/// A literal for a column of `kind`: typed, as a quoted string to be coerced, or NULL.
fn typed_literal(kind: ValueKind) -> BoxedStrategy<Value> {
    let as_string = typed_value(kind).prop_map(|v| match v {
        Value::Null => Value::Null,
        Value::DateTime(t) => Value::Text(t.format("%Y-%m-%d %H:%M:%S%.f%z").to_string()),
        Value::Text(t) => Value::Text(t),
        other => Value::Text(other.to_string()),
    });
    let mut options = vec![typed_value(kind), as_string.boxed()];
    if kind == ValueKind::DateTime {
        options.push(
            (0i64..2)
                .prop_map(|d| Value::Date(base_time().date_naive() + Duration::days(d)))
                .boxed(),
        );
    }
    proptest::strategy::Union::new(options).boxed()
}

fn typed_leaf() -> BoxedStrategy<Expr> {
    let compare = (0..COLUMNS.len(), any_cmp(), any::<bool>()).prop_flat_map(|(c, op, flip)| {
        let (key, kind, ..) = COLUMNS[c];
        typed_literal(kind).prop_map(move |literal| {
            let (column, literal) = (Operand::Column(column_of(key)), Operand::Literal(literal));
            if flip {
                Expr::Compare {
                    left: literal,
                    op: op.flipped(),
                    right: column,
                }
            } else {
                Expr::Compare {
                    left: column,
                    op,
                    right: literal,
                }
            }
        })
    });
    let column_pairs = proptest::sample::select(
        &[
            ("i", "d"),
            ("t", "rel.t"),
            ("i", "rel.i"),
            ("ts", "ts"),
            ("d", "nf"),
        ][..],
    );
    let column_to_column = (column_pairs, any_cmp()).prop_map(|((a, b), op)| Expr::Compare {
        left: Operand::Column(column_of(a)),
        op,
        right: Operand::Column(column_of(b)),
    });
    let constant = (
        any_cmp(),
        typed_value(ValueKind::Integer),
        typed_value(ValueKind::Decimal),
    )
        .prop_map(|(op, a, b)| Expr::Compare {
            left: Operand::Literal(a),
            op,
            right: Operand::Literal(b),
        });
    let in_list = (0..COLUMNS.len(), any::<bool>()).prop_flat_map(|(c, negated)| {
        let (key, kind, ..) = COLUMNS[c];
        proptest::collection::vec(typed_literal(kind), 1..4).prop_map(move |list| Expr::In {
            column: column_of(key),
            list,
            negated,
        })
    });
    let like = (
        proptest::sample::select(&["t", "rel.t"][..]),
        proptest::sample::select(PATTERNS),
        any::<bool>(),
    )
        .prop_map(|(key, pattern, negated)| Expr::Like {
            column: column_of(key),
            pattern: pattern.into(),
            negated,
        });
    let is_null = (0..COLUMNS.len(), any::<bool>()).prop_map(|(c, negated)| Expr::IsNull {
        column: column_of(COLUMNS[c].0),
        negated,
    });
    prop_oneof![6 => compare, 1 => column_to_column, 1 => constant, 2 => in_list, 2 => like, 1 => is_null].boxed()
}

fn typed_expr() -> impl Strategy<Value = Expr> {
    typed_leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 2..5).prop_map(Expr::And),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Expr::Or),
            inner.prop_map(|e| Expr::Not(Box::new(e))),
        ]
    })
}

fn typed_record() -> impl Strategy<Value = BTreeMap<String, Value>> {
    let values: Vec<BoxedStrategy<Value>> = COLUMNS
        .iter()
        .map(|(_, kind, ..)| typed_value(*kind))
        .collect();
    values.prop_map(|values| {
        COLUMNS
            .iter()
            .map(|(key, ..)| key.to_string())
            .zip(values)
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn display_then_parse_is_identity(expr in any_expr()) {
        let text = expr.to_string();
        let parsed = parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(parsed, expr, "{}", text);
    }

    #[test]
    fn parser_never_panics(text in "\\PC{0,60}") {
        let _ = parse(&text);
    }

    #[test]
    fn like_matches_the_oracle(text in "[abAB%_é]{0,8}", pattern in "[abA%_é]{0,6}") {
        let t: Vec<char> = text.chars().collect();
        let p: Vec<char> = pattern.chars().collect();
        prop_assert_eq!(like(&text, &pattern), like_oracle(&t, &p));
    }

    #[test]
    fn split_is_exact_for_every_dialect(expr in typed_expr(), rows in proptest::collection::vec(typed_record(), 8)) {
        let resolver = typed_resolver;
        let bound = bind(&expr, &resolver).map_err(|e| TestCaseError::fail(format!("{expr}: {e}")))?;
        for dialect in [Dialect::DataQuery, Dialect::ExportZoql, Dialect::Zoql] {
            let split = split(&expr, dialect, &resolver).unwrap();
            if let Some(pushed) = &split.pushed {
                let rendered = match dialect {
                    Dialect::DataQuery => to_trino_sql(pushed, &resolver),
                    _ => to_export_zoql(pushed, &resolver),
                };
                prop_assert!(rendered.is_ok(), "{dialect}: {pushed}: {:?}", rendered);
            }
            for row in &rows {
                let whole = eval(&expr, row).unwrap();
                prop_assert_eq!(eval(&bound, row).unwrap(), whole, "bound {}", bound);
                let pushed = split.pushed.as_ref().map_or(Ok(true), |e| eval(e, row)).unwrap();
                let local = split.local.as_ref().map_or(Ok(true), |e| eval(e, row)).unwrap();
                prop_assert_eq!(
                    pushed && local, whole,
                    "{}: {} => pushed {:?} local {:?} on {:?}",
                    dialect, expr, split.pushed.as_ref().map(ToString::to_string),
                    split.local.as_ref().map(ToString::to_string), row
                );
            }
        }
    }
}
