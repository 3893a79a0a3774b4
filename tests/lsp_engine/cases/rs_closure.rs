fn squares() -> Vec<i32> {
    (0..10).map(|x| ║).collect()
}
