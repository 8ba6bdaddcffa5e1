//! SOAP `login()` (salesforce-api.md §2): the Salesforce-credentials method.
//!
//! Pinned to API 64.0, the newest version that still serves `login()` (§2.5). Username,
//! password and token are XML-escaped. The response is read by local element names, so
//! partner and enterprise namespaces both work. A fault becomes [`SalesforceError::Login`]
//! with a hint in plain words; `passwordExpired = true` is a failure, never a session.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::credentials::PasswordCredential;
use crate::error::{Result, SalesforceError};
use crate::redact::scrub_url;

/// The API version of the SOAP `login()` call.
pub const SOAP_LOGIN_VERSION: &str = "64.0";

/// A session from `login()`.
#[derive(Debug, Clone)]
pub struct LoginSession {
    /// The session id, usable as a REST bearer token.
    pub session_id: SecretString,
    /// `scheme://host` of the instance (from `serverUrl`).
    pub instance_url: String,
    /// The 18-character user id.
    pub user_id: String,
    /// The 18-character org id.
    pub org_id: String,
    /// The user name Salesforce reports.
    pub username: Option<String>,
    /// Whether the org is a sandbox.
    pub sandbox: Option<bool>,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "Body")]
    body: Body,
}

#[derive(Deserialize)]
struct Body {
    #[serde(rename = "loginResponse")]
    login_response: Option<LoginResponse>,
    #[serde(rename = "Fault")]
    fault: Option<Fault>,
}

#[derive(Deserialize)]
struct LoginResponse {
    result: LoginResult,
}

#[derive(Deserialize)]
struct LoginResult {
    #[serde(rename = "passwordExpired", default)]
    password_expired: bool,
    #[serde(default)]
    sandbox: Option<bool>,
    #[serde(rename = "serverUrl")]
    server_url: String,
    #[serde(rename = "sessionId")]
    session_id: String,
    #[serde(rename = "userId")]
    user_id: String,
    #[serde(rename = "userInfo")]
    user_info: Option<UserInfo>,
}

#[derive(Deserialize)]
struct UserInfo {
    #[serde(rename = "organizationId")]
    organization_id: Option<String>,
    #[serde(rename = "userName")]
    user_name: Option<String>,
}

#[derive(Deserialize)]
struct Fault {
    #[serde(default)]
    faultcode: String,
    #[serde(default)]
    faultstring: String,
    detail: Option<Detail>,
}

#[derive(Deserialize)]
struct Detail {
    #[serde(rename = "LoginFault")]
    login_fault: Option<ApiFault>,
    #[serde(rename = "UnexpectedErrorFault")]
    unexpected: Option<ApiFault>,
}

#[derive(Deserialize)]
struct ApiFault {
    #[serde(rename = "exceptionCode")]
    exception_code: Option<String>,
}

/// The user-facing hint for a `login()` exception code (salesforce-api.md §2.4).
pub fn login_hint(code: &str) -> &'static str {
    match code {
        "INVALID_LOGIN" => {
            "the username, password or security token is wrong, or the user is locked out; check them (the security token is appended to the password; get a new one under My Settings > Personal > Reset My Security Token)"
        }
        "LOGIN_MUST_USE_SECURITY_TOKEN" => {
            "a security token is needed: Salesforce does not trust this network; add the user's security token (My Settings > Personal > Reset My Security Token) or ask an admin to trust this IP range"
        }
        "LOGIN_CHALLENGE_ISSUED" | "LOGIN_CHALLENGE_PENDING" => {
            "Salesforce sent a verification code because this network is not trusted; add the security token, or ask an admin to trust this IP range"
        }
        "PASSWORD_LOCKOUT" => {
            "the user is locked out after too many failed logins; wait for the lockout period to end, or ask a Salesforce admin to unlock the user"
        }
        "INVALID_OPERATION_WITH_EXPIRED_PASSWORD" | "PASSWORD_EXPIRED" => {
            "the password has expired; log in to Salesforce in a browser, set a new password, then save it here"
        }
        "INSUFFICIENT_ACCESS" => {
            "login() is disabled for this org or the user lacks the Use Any API Auth permission; enable SOAP API login() in Setup > User Interface and grant Use Any API Auth, or switch to OAuth credentials"
        }
        "API_DISABLED_FOR_ORG" => {
            "this org's edition has no API access; use an edition with API access"
        }
        "API_CURRENTLY_DISABLED" => "the API is temporarily disabled for this org; retry later",
        "ORG_LOCKED" => "the org is locked; contact your Salesforce administrator",
        "LOGIN_DURING_RESTRICTED_DOMAIN" => {
            "the user may not log in from this domain; ask a Salesforce admin"
        }
        "LOGIN_DURING_RESTRICTED_TIME" => {
            "the user may not log in at this time of day (login hours); retry later"
        }
        "UNSUPPORTED_API_VERSION" => {
            "this org no longer serves login() at API 64.0; switch to OAuth credentials"
        }
        _ => "Salesforce refused the login",
    }
}

/// Builds the `login()` envelope with every value XML-escaped.
pub(crate) fn envelope(username: &str, password: &str, token: &str) -> String {
    use quick_xml::escape::escape;
    let mut secret = String::with_capacity(password.len() + token.len());
    secret.push_str(password);
    secret.push_str(token);
    let secret = SecretString::from(secret);
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="utf-8" ?>"#,
            r#"<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:env="http://schemas.xmlsoap.org/soap/envelope/">"#,
            r#"<env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com">"#,
            r#"<n1:username>{}</n1:username><n1:password>{}</n1:password>"#,
            r#"</n1:login></env:Body></env:Envelope>"#
        ),
        escape(username),
        escape(secret.expose_secret())
    )
}

/// Calls `login()` at `base` with the credential's username, password and token.
pub async fn soap_login(
    http: &reqwest::Client,
    credential: &PasswordCredential,
) -> Result<LoginSession> {
    let base = credential.endpoint.base_url();
    let url = format!("{base}/services/Soap/u/{SOAP_LOGIN_VERSION}");
    tracing::debug!(url = %scrub_url(&url), username = %credential.username, "SOAP login");
    let body = envelope(
        &credential.username,
        credential.password.expose_secret(),
        credential.security_token.expose_secret(),
    );
    let response = http
        .post(&url)
        .header("Content-Type", "text/xml; charset=UTF-8")
        .header("SOAPAction", "login")
        .body(body)
        .send()
        .await
        .map_err(|e| SalesforceError::Transport {
            url: scrub_url(&url),
            message: e.without_url().to_string(),
        })?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| SalesforceError::Transport {
            url: scrub_url(&url),
            message: e.without_url().to_string(),
        })?;
    tracing::debug!(status = status.as_u16(), "SOAP login answered");
    let session = parse_login_response(&text)?;
    if let Some(sandbox) = session.sandbox
        && credential.endpoint.login_url.is_some()
        && sandbox != credential.endpoint.sandbox
    {
        return Err(SalesforceError::Login {
            code: "SANDBOX_MISMATCH".into(),
            hint: if sandbox {
                "the org is a sandbox but Use Sandbox is off; turn Use Sandbox on".into()
            } else {
                "the org is a production org but Use Sandbox is on; turn Use Sandbox off".into()
            },
        });
    }
    Ok(session)
}

/// Reads a `login()` response or fault.
pub(crate) fn parse_login_response(text: &str) -> Result<LoginSession> {
    let envelope: Envelope = quick_xml::de::from_str(text)
        .map_err(|e| SalesforceError::protocol(format!("SOAP login response: {e}")))?;
    if let Some(fault) = envelope.body.fault {
        let code = fault
            .detail
            .and_then(|d| d.login_fault.or(d.unexpected))
            .and_then(|f| f.exception_code)
            .unwrap_or_else(|| {
                let code = fault.faultcode.rsplit(':').next().unwrap_or_default();
                if code.is_empty() {
                    fault
                        .faultstring
                        .split(':')
                        .next()
                        .unwrap_or_default()
                        .to_string()
                } else {
                    code.to_string()
                }
            });
        let hint = login_hint(&code).to_string();
        return Err(SalesforceError::Login { code, hint });
    }
    let result = envelope
        .body
        .login_response
        .ok_or_else(|| SalesforceError::protocol("SOAP login response has no result"))?
        .result;
    if result.password_expired {
        let code = "INVALID_OPERATION_WITH_EXPIRED_PASSWORD";
        return Err(SalesforceError::Login {
            code: "PASSWORD_EXPIRED".into(),
            hint: login_hint(code).into(),
        });
    }
    let instance_url = instance_of(&result.server_url)?;
    let user_info = result.user_info;
    let org_id = user_info
        .as_ref()
        .and_then(|u| u.organization_id.clone())
        .unwrap_or_default();
    Ok(LoginSession {
        session_id: SecretString::from(result.session_id),
        instance_url,
        user_id: result.user_id,
        org_id,
        username: user_info.and_then(|u| u.user_name),
        sandbox: result.sandbox,
    })
}

/// `scheme://host[:port]` of a server URL, with `-api` dropped from the host as
/// simple-salesforce does.
fn instance_of(server_url: &str) -> Result<String> {
    let url = reqwest::Url::parse(server_url)
        .map_err(|e| SalesforceError::protocol(format!("serverUrl: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| SalesforceError::protocol("serverUrl has no host"))?
        .replace("-api.", ".");
    Ok(match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_escapes_every_value() {
        let xml = envelope("a&b@x.io", "p<&>\"'", "TOK");
        assert!(xml.contains("<n1:username>a&amp;b@x.io</n1:username>"));
        assert!(xml.contains("<n1:password>p&lt;&amp;&gt;&quot;&apos;TOK</n1:password>"));
    }

    /// The simple-salesforce fixture shape (enterprise namespace), trimmed.
    #[test]
    fn success_is_read_by_local_names() {
        let xml = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:enterprise.soap.sforce.com"><soapenv:Body><loginResponse><result><metadataServerUrl>https://na15.salesforce.com/services/Soap/m/29.0/00D000000000001</metadataServerUrl><passwordExpired>false</passwordExpired><sandbox>false</sandbox><serverUrl>https://na15-api.salesforce.com/services/Soap/c/29.0/00D000000000001/0DF</serverUrl><sessionId>00D000000000001!AQ0AQ</sessionId><userId>005000000000001AAA</userId><userInfo><organizationId>00D000000000001AAA</organizationId><userName>you@x.io</userName></userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>"#;
        let s = parse_login_response(xml).unwrap();
        assert_eq!(s.instance_url, "https://na15.salesforce.com");
        assert_eq!(s.org_id, "00D000000000001AAA");
        assert_eq!(s.username.as_deref(), Some("you@x.io"));
    }

    /// The simple-salesforce `test_failure` fault, and a lockout fault without detail.
    #[test]
    fn faults_map_to_plain_hints() {
        let xml = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: Invalid username, password, security token; or user locked out.</faultstring><detail><sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode><sf:exceptionMessage>Invalid username, password, security token; or user locked out.</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;
        let err = parse_login_response(xml).unwrap_err();
        assert!(matches!(&err, SalesforceError::Login { code, .. } if code == "INVALID_LOGIN"));
        let lockout = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>sf:PASSWORD_LOCKOUT</faultcode><faultstring>PASSWORD_LOCKOUT: locked</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;
        let err = parse_login_response(lockout).unwrap_err().to_string();
        assert!(
            err.contains("PASSWORD_LOCKOUT") && err.contains("locked out"),
            "{err}"
        );
    }
}
