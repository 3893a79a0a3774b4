function createUser(name, email) {
  return {
    name,
    email,
    createdAt: ║
  };
}
