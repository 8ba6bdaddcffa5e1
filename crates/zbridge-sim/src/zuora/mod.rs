//! Simulator of the Zuora REST API (OAuth, Data Query, AQuA, Actions, describe, files).
