fn describe(value: Option<i32>) -> String {
    match value {
        Some(x) => format!("got {}", x),
        ║
    }
}
