# Every binary of the workspace → the crate that builds it (the flake makes packages.<binary> of each).
{
  catalog = "catalog";
  auth = "auth";
  auth-client = "auth";
  orders = "orders";
  gateway = "gateway";
  events-producer = "events";
  events-consumer = "events";
  loadgen = "loadgen";
  lab = "lab";
}
