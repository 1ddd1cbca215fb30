//! Huashen's background worker: it will plan due mails into the notification ledger
//! and send them. For now the crate only fixes its place in the workspace.
