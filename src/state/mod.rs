//! The state store (ledger): what mapsync knows of each synced item.
