//! Rebuilds when a migration is added: `sqlx::migrate!` embeds the files it finds, and cargo
//! does not see a new file in that directory by itself (as sqlx's documentation advises).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
