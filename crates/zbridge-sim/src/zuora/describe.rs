//! `GET /v1/describe` and `GET /v1/describe/{object}`: XML built from the catalogue.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::http::xml;
use super::schema::{FieldType, ObjectDef, catalog};
use super::state::Sim;

/// Escapes text for XML content and attributes.
pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn href(sim: &Sim, name: &str) -> String {
    format!("{}/v1/describe/{name}", sim.base_url)
}

/// The list of objects.
pub(crate) async fn list(State(sim): State<Arc<Sim>>) -> Response {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<objects>\n");
    let all = catalog()
        .objects
        .iter()
        .chain(catalog().describe_only.iter());
    for o in all.filter(|o| sim.object_enabled(o.kind)) {
        let _ = writeln!(
            out,
            "  <object href=\"{}\"><name>{}</name><label>{}</label></object>",
            esc(&href(&sim, o.name)),
            esc(o.name),
            esc(&o.label)
        );
    }
    out.push_str("</objects>\n");
    xml(StatusCode::OK, out)
}

/// One object. `showRelationships=true` fills `<related-objects>`; without it the element is
/// present but empty (see ZUORA.md: tap-zuora reads the element unconditionally).
pub(crate) async fn object(
    State(sim): State<Arc<Sim>>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let obj = catalog()
        .object(&name)
        .filter(|o| sim.object_enabled(o.kind))
        .or_else(|| {
            catalog()
                .describe_only
                .iter()
                .find(|o| o.name.eq_ignore_ascii_case(&name))
        });
    let Some(obj) = obj else {
        return xml(
            StatusCode::NOT_FOUND,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error><code>NOT_FOUND</code><message>Object {} not found</message></error>\n",
                esc(&name)
            ),
        );
    };
    let relationships = params
        .get("showRelationships")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    xml(StatusCode::OK, describe_object(&sim, obj, relationships))
}

fn describe_object(sim: &Sim, obj: &ObjectDef, relationships: bool) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<object href=\"{}\">\n  <name>{}</name>\n  <label>{}</label>\n  <fields>\n",
        esc(&href(sim, obj.name)),
        esc(obj.name),
        esc(&obj.label)
    );
    for f in &obj.fields {
        let maxlength = match f.ty {
            FieldType::Id | FieldType::Ref(_) => "32",
            FieldType::Text => "255",
            _ => "",
        };
        let _ = write!(
            out,
            "    <field>\n      <name>{}</name>\n      <label>{}</label>\n      <selectable>true</selectable>\n      \
             <createable>{}</createable>\n      <updateable>{}</updateable>\n      <filterable>true</filterable>\n      \
             <custom>{}</custom>\n      <maxlength>{maxlength}</maxlength>\n      <required>{}</required>\n      <type>{}</type>\n",
            esc(f.name),
            esc(&f.label),
            f.writable,
            f.writable,
            f.custom,
            f.name == "Id",
            f.ty.describe_name(),
        );
        if let FieldType::Picklist(options) = f.ty {
            out.push_str("      <options>\n");
            for o in options {
                let _ = writeln!(out, "        <option>{}</option>", esc(o));
            }
            out.push_str("      </options>\n");
        }
        out.push_str("      <contexts>\n        <context>soap</context>\n");
        if f.exportable {
            out.push_str("        <context>export</context>\n");
        }
        out.push_str("      </contexts>\n    </field>\n");
    }
    out.push_str("  </fields>\n  <related-objects>\n");
    if relationships {
        for r in &obj.relations {
            let _ = write!(
                out,
                "    <object href=\"{}\">\n      <name>{}</name>\n      <label>{}</label>\n      <cardinality>TO_ONE</cardinality>\n      \
                 <direct-relationship>{}</direct-relationship>\n      <path>{}.{}</path>\n    </object>\n",
                esc(&href(sim, r.target.def().name)),
                esc(r.name),
                esc(&r.label),
                r.path.len() == 1,
                esc(obj.name),
                esc(r.name),
            );
        }
    }
    out.push_str("  </related-objects>\n</object>\n");
    out
}
