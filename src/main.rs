//! The `privacy-inspector` CLI (to be written).

fn main() {
    println!("privacy-inspector {}", privacy_inspector::VERSION);
}
