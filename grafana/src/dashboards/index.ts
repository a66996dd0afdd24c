// Every dashboard by file name (grafana/dashboards/<name>.json, ConfigMap grafana-dashboard-<name>).
import grpc from "./grpc.js";
import http from "./http.js";
import kafka from "./kafka.js";
import load from "./load.js";
import overview from "./overview.js";
import redis from "./redis.js";
import sql from "./sql.js";

export const dashboards = { overview, http, grpc, sql, redis, kafka, load };
