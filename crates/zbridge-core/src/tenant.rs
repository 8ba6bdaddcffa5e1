//! Zuora tenants (data centers) and the two Zuora services a connection can use.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{ValidationError, closest};

/// The Zuora environment a connection talks to.
///
/// The spellings are the connector's. Beware the naming trap: `USProduction` is Zuora's US
/// **Cloud 2** (`rest.zuora.com`) while `USCloudProduction` is US **Cloud 1**
/// (`rest.na.zuora.com`); the API sandboxes follow the same pattern. Other hosts (APAC,
/// Production Copy, a simulator) are reached with the advanced property `URL`, which overrides
/// the tenant's base URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Tenant {
    /// US Cloud 2 Production.
    #[default]
    USProduction,
    /// US Cloud 2 API Sandbox.
    USAPISandbox,
    /// US Cloud 2 Performance Test (no longer offered by Zuora).
    USPerformanceTest,
    /// EU Production.
    EUProduction,
    /// EU API Sandbox.
    EUSandbox,
    /// EU Developer & Central Sandbox.
    EUCentralSandbox,
    /// US Cloud 1 Production.
    USCloudProduction,
    /// US Cloud 1 API Sandbox.
    USCloudAPISandbox,
    /// US Developer & Central Sandbox.
    USCentralSandbox,
}

/// Where a tenant's data lives; it decides the time zone of AQuA's `incrementalTime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Region {
    /// US data centers: AQuA `incrementalTime` is in US/Pacific.
    US,
    /// EU data centers: AQuA `incrementalTime` is in UTC.
    EU,
}

impl Tenant {
    /// Every tenant, in the order the connector screen lists them.
    pub const ALL: [Tenant; 9] = [
        Tenant::USProduction,
        Tenant::USAPISandbox,
        Tenant::USPerformanceTest,
        Tenant::EUProduction,
        Tenant::EUSandbox,
        Tenant::EUCentralSandbox,
        Tenant::USCloudProduction,
        Tenant::USCloudAPISandbox,
        Tenant::USCentralSandbox,
    ];

    /// The label of this field on screen and in errors.
    pub const FIELD: &'static str = "Tenant";

    /// The connector's spelling of the tenant.
    pub fn as_str(self) -> &'static str {
        match self {
            Tenant::USProduction => "USProduction",
            Tenant::USAPISandbox => "USAPISandbox",
            Tenant::USPerformanceTest => "USPerformanceTest",
            Tenant::EUProduction => "EUProduction",
            Tenant::EUSandbox => "EUSandbox",
            Tenant::EUCentralSandbox => "EUCentralSandbox",
            Tenant::USCloudProduction => "USCloudProduction",
            Tenant::USCloudAPISandbox => "USCloudAPISandbox",
            Tenant::USCentralSandbox => "USCentralSandbox",
        }
    }

    /// The REST base URL, without a trailing slash. The OAuth endpoint is `{base}/oauth/token`.
    pub fn base_url(self) -> &'static str {
        match self {
            Tenant::USProduction => "https://rest.zuora.com",
            Tenant::USAPISandbox => "https://rest.apisandbox.zuora.com",
            Tenant::USPerformanceTest => "https://rest.pt1.zuora.com",
            Tenant::EUProduction => "https://rest.eu.zuora.com",
            Tenant::EUSandbox => "https://rest.sandbox.eu.zuora.com",
            Tenant::EUCentralSandbox => "https://rest.test.eu.zuora.com",
            Tenant::USCloudProduction => "https://rest.na.zuora.com",
            Tenant::USCloudAPISandbox => "https://rest.sandbox.na.zuora.com",
            Tenant::USCentralSandbox => "https://rest.test.zuora.com",
        }
    }

    /// The data-center region of the tenant.
    pub fn region(self) -> Region {
        match self {
            Tenant::EUProduction | Tenant::EUSandbox | Tenant::EUCentralSandbox => Region::EU,
            _ => Region::US,
        }
    }

    /// Parses the connector's spelling, ignoring case; the error lists every valid tenant.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let input = input.trim();
        Tenant::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(input))
            .ok_or_else(|| {
                let valid: Vec<&str> = Tenant::ALL.iter().map(|t| t.as_str()).collect();
                let hint = closest(input, valid.iter().copied())
                    .map(|c| format!(" (did you mean {c}?)"))
                    .unwrap_or_default();
                ValidationError::new(
                    Self::FIELD,
                    format!(
                        "unknown tenant '{input}'{hint}; valid tenants: {}",
                        valid.join(", ")
                    ),
                )
            })
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Tenant {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tenant::parse(s)
    }
}

/// Which Zuora API a connection reads through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum ZuoraService {
    /// Data Query: asynchronous Trino SQL over `/query/jobs`; for light, quick queries.
    DataQuery,
    /// AQuA: asynchronous Export ZOQL over `/v1/batch-query/`; for bulk and historical loads.
    /// The connector's default.
    #[default]
    AQuADataExport,
}

impl ZuoraService {
    /// Both services, in screen order.
    pub const ALL: [ZuoraService; 2] = [ZuoraService::DataQuery, ZuoraService::AQuADataExport];

    /// The label of this field on screen and in errors.
    pub const FIELD: &'static str = "Zuora Service";

    /// The connector's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ZuoraService::DataQuery => "DataQuery",
            ZuoraService::AQuADataExport => "AQuADataExport",
        }
    }

    /// Parses the connector's spelling or the short forms `dataquery` and `aqua`, ignoring case.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let normalized = input.trim().to_ascii_lowercase();
        match normalized.as_str() {
            "dataquery" | "data-query" | "data_query" => Ok(ZuoraService::DataQuery),
            "aquadataexport" | "aqua" => Ok(ZuoraService::AQuADataExport),
            _ => Err(ValidationError::new(
                Self::FIELD,
                format!(
                    "unknown service '{}'; valid services: DataQuery, AQuADataExport (or dataquery, aqua)",
                    input.trim()
                ),
            )),
        }
    }
}

impl fmt::Display for ZuoraService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ZuoraService {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ZuoraService::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud1_and_cloud2_hosts_are_not_swapped() {
        assert_eq!(Tenant::USProduction.base_url(), "https://rest.zuora.com");
        assert_eq!(
            Tenant::USCloudProduction.base_url(),
            "https://rest.na.zuora.com"
        );
        assert_eq!(
            Tenant::USAPISandbox.base_url(),
            "https://rest.apisandbox.zuora.com"
        );
        assert_eq!(
            Tenant::USCloudAPISandbox.base_url(),
            "https://rest.sandbox.na.zuora.com"
        );
        assert_eq!(
            Tenant::USCentralSandbox.base_url(),
            "https://rest.test.zuora.com"
        );
        assert_eq!(
            Tenant::EUCentralSandbox.base_url(),
            "https://rest.test.eu.zuora.com"
        );
    }

    #[test]
    fn every_tenant_round_trips_through_its_spelling() {
        for t in Tenant::ALL {
            assert_eq!(Tenant::parse(t.as_str()), Ok(t));
            assert_eq!(Tenant::parse(&t.as_str().to_lowercase()), Ok(t));
        }
        assert_eq!(Tenant::ALL.len(), 9);
    }

    #[test]
    fn unknown_tenant_lists_the_valid_ones() {
        let err = Tenant::parse("USProd").unwrap_err().to_string();
        assert!(
            err.starts_with("Tenant: unknown tenant 'USProd' (did you mean USProduction?)"),
            "{err}"
        );
        for t in Tenant::ALL {
            assert!(err.contains(t.as_str()), "{err}");
        }
    }

    #[test]
    fn regions_follow_the_data_center() {
        assert_eq!(Tenant::EUSandbox.region(), Region::EU);
        assert_eq!(Tenant::USCloudProduction.region(), Region::US);
    }

    #[test]
    fn services_parse_long_and_short_forms() {
        assert_eq!(
            ZuoraService::parse("DataQuery"),
            Ok(ZuoraService::DataQuery)
        );
        assert_eq!(
            ZuoraService::parse("aqua"),
            Ok(ZuoraService::AQuADataExport)
        );
        assert_eq!(
            ZuoraService::parse("AQuADataExport"),
            Ok(ZuoraService::AQuADataExport)
        );
        let err = ZuoraService::parse("REST").unwrap_err().to_string();
        assert!(
            err.starts_with("Zuora Service: unknown service 'REST'"),
            "{err}"
        );
    }
}
