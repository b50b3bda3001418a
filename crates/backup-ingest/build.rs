// The migrations are built into the crate by `sqlx::migrate!`: a new or
// changed migration must rebuild it.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
