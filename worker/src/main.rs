//! `huashen-worker`: not yet able to run jobs; it says so and exits non-zero.

fn main() {
    eprintln!("huashen-worker has no jobs to run yet");
    std::process::exit(2);
}
