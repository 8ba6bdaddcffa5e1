"""Drives the unmodified simple-salesforce 1.12.10 against the zbridge Salesforce simulator.

simple-salesforce always builds https://{domain}.salesforce.com and https://{instance} URLs.
The library is not patched: the only thing added is a transport adapter mounted on the
requests Session for "https://", which sends each request to the simulator's loopback HTTP
listener (login.salesforce.com -> production org, test.salesforce.com -> sandbox org, and the
loopback instance host the login returned -> itself, over http).
"""

import csv
import io
import json
import sys
import time
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce, SalesforceAuthenticationFailed
from simple_salesforce.__version__ import __version__


class LoopbackAdapter(HTTPAdapter):
    """Sends https:// requests to the simulator's plain-HTTP loopback listeners."""

    def __init__(self, hosts):
        super().__init__()
        self.hosts = hosts

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        host = self.hosts.get(parts.netloc, parts.netloc)
        request.url = urlunsplit(("http", host, parts.path, parts.query, parts.fragment))
        return super().send(request, **kwargs)


def session_for(orgs):
    hosts = {}
    for org in orgs:
        loopback = urlsplit(org["login_url"]).netloc
        canonical = "login.salesforce.com" if org["kind"] == "production" else "test.salesforce.com"
        hosts[canonical] = loopback
    s = requests.Session()
    s.trust_env = False
    s.mount("https://", LoopbackAdapter(hosts))
    return s


def check(condition, message):
    if not condition:
        raise AssertionError(message)
    print(f"ok - {message}")


def user(org, login):
    return next(u for u in org["users"] if u["username"].startswith(login + "@"))


def main(path):
    started = time.time()
    with open(path) as f:
        info = json.loads(f.readline())
    orgs = info["orgs"]
    prod = next(o for o in orgs if o["kind"] == "production")
    sandbox = next(o for o in orgs if o["kind"] == "sandbox")
    session = session_for(orgs)
    check(__version__ == "1.12.10", f"simple-salesforce {__version__}")

    admin = user(prod, "admin")
    try:
        Salesforce(username=admin["username"], password=admin["password"],
                   security_token="wrong", domain="login", session=session)
        raise AssertionError("a wrong security token must fail")
    except SalesforceAuthenticationFailed as e:
        check(e.code == "INVALID_LOGIN", "a wrong security token fails with INVALID_LOGIN")

    sf = Salesforce(username=admin["username"], password=admin["password"],
                    security_token=admin["security_token"], domain="login", session=session)
    check(sf.sf_instance == urlsplit(prod["instance_url"]).netloc,
          "SOAP login with a security token returns the simulator's instance")
    check(sf.session_id.startswith(prod["org_id15"] + "!"), "the session id starts with the org id")

    # Describe.
    names = {o["name"] for o in sf.describe()["sobjects"]}
    check({"Zuora__CustomerAccount__c", "Zuora__Subscription__c", "Account"} <= names,
          "global describe lists the Zuora 360 objects")
    desc = sf.Zuora__CustomerAccount__c.describe()
    ext = next(f for f in desc["fields"] if f["name"] == "Zuora__External_Id__c")
    check(ext["externalId"] and ext["idLookup"], "describe marks Zuora__External_Id__c as an external id")

    # Upsert by external id.
    crm = sf.query("SELECT Id FROM Account ORDER BY Name LIMIT 1")["records"][0]["Id"]
    status = sf.Zuora__CustomerAccount__c.upsert(
        "Zuora__External_Id__c/ca-1", {"Name": "Acme", "Zuora__Account__c": crm})
    check(status == 201, f"upsert by external id creates (HTTP {status})")
    status = sf.Zuora__CustomerAccount__c.upsert("Zuora__External_Id__c/ca-1", {"Name": "Acme 2"})
    check(status in (200, 204), f"a second upsert updates (HTTP {status})")
    record = sf.Zuora__CustomerAccount__c.get_by_custom_id("Zuora__External_Id__c", "ca-1")
    check(record["Name"] == "Acme 2" and record["Zuora__Account__c"] == crm, "the record reads back")

    # SOQL with paging.
    first = sf.query("SELECT Id, Name FROM Account")
    check(first["totalSize"] == 2500 and not first["done"] and "nextRecordsUrl" in first,
          "a query over 2,000 rows returns a nextRecordsUrl")
    more = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    check(more["done"] and len(first["records"]) + len(more["records"]) == 2500, "query_more fetches the rest")
    everything = sf.query_all("SELECT Id FROM Account")
    check(len(everything["records"]) == 2500, "query_all follows nextRecordsUrl")

    # Bulk 2.0 upsert with results.
    records = [
        {"Zuora__External_Id__c": f"sub-{i}", "Name": f"A-S{i:05}",
         "Zuora__CustomerAccount__r.Zuora__External_Id__c": "ca-1"}
        for i in range(3)
    ]
    records.append({"Zuora__External_Id__c": "sub-bad", "Name": "bad",
                    "Zuora__CustomerAccount__r.Zuora__External_Id__c": "missing"})
    results = sf.bulk2.Zuora__Subscription__c.upsert(
        records=records, external_id_field="Zuora__External_Id__c", wait=1)
    check(len(results) == 1 and results[0]["numberRecordsProcessed"] == 4
          and results[0]["numberRecordsFailed"] == 1, f"Bulk 2.0 upsert ran: {results}")
    job_id = results[0]["job_id"]
    ok_rows = list(csv.DictReader(io.StringIO(sf.bulk2.Zuora__Subscription__c.get_successful_records(job_id))))
    check(sorted(r["Zuora__External_Id__c"] for r in ok_rows) == ["sub-0", "sub-1", "sub-2"]
          and all(r["sf__Created"] == "true" and len(r["sf__Id"]) == 18 for r in ok_rows),
          "successful results carry sf__Id and sf__Created")
    failed = list(csv.DictReader(io.StringIO(sf.bulk2.Zuora__Subscription__c.get_failed_records(job_id))))
    check(len(failed) == 1 and failed[0]["sf__Error"].startswith("INVALID_FIELD:Foreign key external ID"),
          "failed results carry sf__Error")
    unprocessed = sf.bulk2.Zuora__Subscription__c.get_unprocessed_records(job_id)
    check(len(list(csv.DictReader(io.StringIO(unprocessed)))) == 0, "no unprocessed records")
    check(sf.query("SELECT COUNT() FROM Zuora__Subscription__c")["totalSize"] == 3,
          "the upserted subscriptions are in the org")

    # The sandbox org through domain='test'.
    sb_admin = user(sandbox, "admin")
    sb = Salesforce(username=sb_admin["username"], password=sb_admin["password"],
                    security_token=sb_admin["security_token"], domain="test", session=session)
    check(sb.sf_instance == urlsplit(sandbox["instance_url"]).netloc, "domain='test' logs in to the sandbox org")
    check(sb.query("SELECT COUNT() FROM Zuora__Subscription__c")["totalSize"] == 0,
          "the sandbox org has its own data")

    print(f"simple-salesforce conformance passed in {time.time() - started:.1f}s")


if __name__ == "__main__":
    main(sys.argv[1])
