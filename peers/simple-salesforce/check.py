"""Drives the unmodified simple-salesforce 1.12.10 against the zbridge Salesforce simulator:
login, describe, upsert, SOQL paging, Bulk 2.0 ingest and query jobs, queryAll over the recycle
bin, updated/deleted, Collections retrieve, Composite and sObject Tree, and SOAP logout.

simple-salesforce always builds https://{domain}.salesforce.com and https://{instance} URLs.
The library is not patched: the only thing added is a transport adapter mounted on the
requests Session for "https://", which sends each request to the simulator's loopback HTTP
listener (login.salesforce.com -> production org, test.salesforce.com -> sandbox org, and the
loopback instance host the login returned -> itself, over http).
"""

import csv
import io
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce, SalesforceAuthenticationFailed, SalesforceMalformedRequest
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

    check_issue_19(sf, admin, session)

    # The sandbox org through domain='test'.
    sb_admin = user(sandbox, "admin")
    sb = Salesforce(username=sb_admin["username"], password=sb_admin["password"],
                    security_token=sb_admin["security_token"], domain="test", session=session)
    check(sb.sf_instance == urlsplit(sandbox["instance_url"]).netloc, "domain='test' logs in to the sandbox org")
    check(sb.query("SELECT COUNT() FROM Zuora__Subscription__c")["totalSize"] == 0,
          "the sandbox org has its own data")

    print(f"simple-salesforce conformance passed in {time.time() - started:.1f}s")


def rows_of(text):
    return list(csv.DictReader(io.StringIO(text)))


def check_bulk_query(sf):
    """Bulk API 2.0 query jobs through sf.bulk2.<Object>.query / query_all / download."""
    pages = list(sf.bulk2.Account.query("SELECT Id, Name FROM Account", max_records=1000, wait=0.1))
    rows = [r for page in pages for r in rows_of(page)]
    check(len(pages) == 3 and [len(rows_of(p)) for p in pages] == [1000, 1000, 500],
          "bulk2 query pages 2,500 accounts by maxRecords=1000 following Sforce-Locator")
    check(len({r["Id"] for r in rows}) == 2500 and all(r["Name"].startswith("Sim Customer") for r in rows),
          "every page carries the header row and distinct records")
    with tempfile.TemporaryDirectory() as tmp:
        files = sf.bulk2.Account.download("SELECT Id FROM Account", path=tmp, max_records=2000, wait=0.1)
        total = sum(f["number_of_records"] for f in files)
        check(len(files) == 2 and total == 2500 and all(os.path.exists(f["file"]) for f in files),
              "bulk2 download streams the pages to files (Sforce-NumberOfRecords adds up)")
    jobs = sf.restful("jobs/query")["records"]
    check(len(jobs) == 2 and all(j["jobType"] == "V2Query" and j["state"] == "JobComplete" for j in jobs),
          "GET jobs/query lists the finished query jobs")
    for job in jobs:
        sf.restful(f"jobs/query/{job['id']}", method="DELETE")
    check(sf.restful("jobs/query")["records"] == [], "DELETE jobs/query/{id} removes them")


def check_recycle_bin(sf):
    """queryAll (REST include_deleted and Bulk 2.0 query_all) sees deleted records."""
    sub = sf.query("SELECT Id FROM Zuora__Subscription__c WHERE Zuora__External_Id__c = 'sub-2'")["records"][0]["Id"]
    check(sf.Zuora__Subscription__c.delete(sub) == 204, "REST delete of a subscription")
    soql = "SELECT Id, IsDeleted FROM Zuora__Subscription__c"
    live = sf.query_all(soql)["records"]
    every = sf.query_all(soql, include_deleted=True)["records"]
    check(len(live) == 2 and sub not in {r["Id"] for r in live}, "query does not see the deleted record")
    check(len(every) == 3 and any(r["Id"] == sub and r["IsDeleted"] for r in every),
          "query_all(include_deleted=True) reads it from the recycle bin with IsDeleted = true")
    bulk = [r for page in sf.bulk2.Zuora__Subscription__c.query_all(soql, wait=0.1) for r in rows_of(page)]
    check(sorted(r["IsDeleted"] for r in bulk) == ["false", "false", "true"],
          "bulk2 query_all (operation queryAll) includes the deleted record")
    return sub


def check_replication(sf, deleted_id):
    """sf.<Object>.updated(start, end) and .deleted(start, end)."""
    end = datetime.now(timezone.utc) + timedelta(minutes=2)
    start = end - timedelta(hours=1)
    updated = sf.Zuora__Subscription__c.updated(start, end)
    check(len(updated["ids"]) == 2 and "latestDateCovered" in updated,
          f"SObject updated() lists the live subscriptions ({len(updated['ids'])})")
    deleted = sf.Zuora__Subscription__c.deleted(start, end)
    check([d["id"] for d in deleted["deletedRecords"]] == [deleted_id]
          and {"earliestDateAvailable", "latestDateCovered"} <= deleted.keys(),
          "SObject deleted() lists the deleted subscription with deletedDate")


def check_collections_retrieve(sf):
    """sObject Collections retrieve by GET and POST (through sf.restful)."""
    subs = sf.query("SELECT Id FROM Zuora__Subscription__c ORDER BY Name")["records"]
    ids = [r["Id"] for r in subs]
    got = sf.restful("composite/sobjects/Zuora__Subscription__c",
                     params={"ids": ",".join(ids + ["a0B000000000000AAA"]), "fields": "Id,Name"})
    check(len(got) == 3 and got[2] is None and [g["Id"] for g in got[:2]] == ids,
          "GET composite/sobjects/{type}?ids=&fields= answers null for an id not found")
    posted = sf.restful("composite/sobjects/Zuora__Subscription__c", method="POST",
                        json={"ids": ids, "fields": ["Name"]})
    check([p["Name"] for p in posted] == ["A-S00000", "A-S00001"], "POST composite/sobjects/{type} with ids and fields")


def check_composite(sf):
    """POST composite with references, and POST composite/tree (all or nothing)."""
    v = f"/services/data/v{sf.sf_version}"
    out = sf.restful("composite", method="POST", json={"allOrNone": True, "compositeRequest": [
        {"method": "POST", "url": f"{v}/sobjects/Zuora__CustomerAccount__c", "referenceId": "ca",
         "body": {"Name": "Composite Co"}},
        {"method": "POST", "url": f"{v}/sobjects/Zuora__Subscription__c", "referenceId": "sub",
         "body": {"Name": "A-COMP", "Zuora__CustomerAccount__c": "@{ca.id}"}},
        {"method": "GET", "url": f"{v}/query?q=SELECT+Zuora__CustomerAccount__c+FROM+Zuora__Subscription__c+WHERE+Name='A-COMP'",
         "referenceId": "q"}]})["compositeResponse"]
    check([r["httpStatusCode"] for r in out] == [201, 201, 200]
          and out[2]["body"]["records"][0]["Zuora__CustomerAccount__c"] == out[0]["body"]["id"],
          "composite runs subrequests with @{ca.id} references and per-subrequest results")
    tree = sf.restful("composite/tree/Zuora__CustomerAccount__c", method="POST", json={"records": [
        {"attributes": {"type": "Zuora__CustomerAccount__c", "referenceId": "tca"}, "Name": "Tree Co",
         "Zuora__Subscriptions__r": {"records": [
             {"attributes": {"type": "Zuora__Subscription__c", "referenceId": "tsub"}, "Name": "A-TREE"}]}}]})
    check(not tree["hasErrors"] and [r["referenceId"] for r in tree["results"]] == ["tca", "tsub"],
          "composite/tree creates a parent and its child")
    try:
        sf.restful("composite/tree/Zuora__CustomerAccount__c", method="POST", json={"records": [
            {"attributes": {"type": "Zuora__CustomerAccount__c", "referenceId": "bad"}, "Zuora__Balance__c": "x"}]})
        raise AssertionError("a bad tree record must fail")
    except SalesforceMalformedRequest as e:
        check(e.content["hasErrors"] and e.content["results"][0]["referenceId"] == "bad",
              "a failing tree answers 400 with the record's referenceId and errors")


def check_logout(sf, session):
    """SOAP logout(): simple-salesforce 1.12.10 has no logout call, so the envelope is sent through
    sf.session (the same requests.Session, unmodified library)."""
    old = sf.session_id
    envelope = (
        '<?xml version="1.0" encoding="utf-8"?><env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/">'
        f'<env:Header><SessionHeader xmlns="urn:partner.soap.sforce.com"><sessionId>{old}</sessionId></SessionHeader>'
        '</env:Header><env:Body><logout xmlns="urn:partner.soap.sforce.com"/></env:Body></env:Envelope>')
    resp = session.post(f"https://{sf.sf_instance}/services/Soap/u/{sf.sf_version}", data=envelope,
                        headers={"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": "logout"})
    check(resp.status_code == 200 and "logoutResponse" in resp.text, "SOAP logout() answers logoutResponse")
    stale = session.get(f"https://{sf.sf_instance}/services/data/v{sf.sf_version}/limits",
                        headers={"Authorization": f"Bearer {old}"})
    check(stale.status_code == 401 and stale.json()[0]["errorCode"] == "INVALID_SESSION_ID",
          "the logged-out session gets 401 INVALID_SESSION_ID")
    check(sf.query("SELECT COUNT() FROM Account")["totalSize"] == 2500 and sf.session_id != old,
          "simple-salesforce logs in again on INVALID_SESSION_ID and carries on")


def check_issue_19(sf, admin, session):
    check_bulk_query(sf)
    deleted = check_recycle_bin(sf)
    check_replication(sf, deleted)
    check_collections_retrieve(sf)
    check_composite(sf)
    check_logout(sf, session)


if __name__ == "__main__":
    main(sys.argv[1])
