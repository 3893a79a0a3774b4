/// Returns the factorial of n.
fn factorial(n: u64) -> u64 {
    ║
}

fn main() {
    println!("{}", factorial(5));
}
