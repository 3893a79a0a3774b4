/**
 * Sum of all numbers in the array.
 */
function sum(values) {
  ║
}

module.exports = { sum };
