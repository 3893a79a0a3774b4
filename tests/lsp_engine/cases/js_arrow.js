const numbers = [1, 2, 3, 4];
const double = (x) => ║;
console.log(numbers.map(double));
