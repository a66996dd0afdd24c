// Kafka dashboard: produce and consume as OBI sees them per topic, the DLQ rate, produced − processed per
// topic and consumer (OBI's proxy for lag) — and the broker's own view (kafka-exporter: lag per partition,
// partitions, group members).
import { DLQ_TOPIC } from "../lab.js";
import { graph, labelVariable, logsPanel, mopDashboard, namespaceVariable, note, rate, redRow, section, single, steps } from "../panels.js";

const PUB = "messaging_client_operation_duration_seconds";
const PROC = "messaging_process_duration_seconds";
const NS = `k8s_namespace_name="$namespace"`;
const TOPIC = `messaging_destination_name=~"$topic"`;

/** Produced (all producers) − processed (per consuming service), per topic: > 0 means a backlog grows. */
export const producedMinusProcessed =
  `sum by (messaging_destination_name) (${rate(`${PUB}_count`, `${NS}, ${TOPIC}`)})` +
  ` - on (messaging_destination_name) group_right () sum by (messaging_destination_name, service_name) (${rate(`${PROC}_count`, `${NS}, ${TOPIC}`)})`;

export default mopDashboard(
  "mop-kafka",
  "MOP / Kafka",
  "Kafka traffic of the events services as OBI sees it (produce and process per topic, the DLQ), OBI's produced − processed as a lag proxy, and the broker's own view (kafka-exporter: consumer lag per partition, partitions).",
  (d) => {
    d.withVariable(namespaceVariable(`${PUB}_count`));
    d.withVariable(labelVariable("topic", "Topic", `${PUB}_count{k8s_namespace_name="$namespace"}`, "messaging_destination_name"));
    section(
      d,
      "Produce (RED) — OBI, producer side",
      redRow({ metric: PUB, sel: `${NS}, ${TOPIC}`, by: "messaging_destination_name", noun: "produce calls", slow: [0.05, 0.25] }),
    );
    section(
      d,
      "Process (RED) — OBI, consumer side",
      redRow({ metric: PROC, sel: `${NS}, ${TOPIC}`, by: "messaging_destination_name", noun: "processed messages", slow: [0.1, 1] }),
    );
    section(d, "Backlog and dead letters", [
      single({
        title: "DLQ rate",
        description: `Messages per second written to the dead-letter topic '${DLQ_TOPIC}' (events that failed every attempt). Anything above 0 is data that needs a human.`,
        unit: "reqps",
        w: 6,
        h: 8,
        thresholds: steps([0.0001, "red"]),
        expr: `sum(${rate(`${PUB}_count`, `${NS}, messaging_destination_name="${DLQ_TOPIC}"`)}) or vector(0)`,
      }),
      graph({
        title: "Produced − processed per topic and consumer (OBI)",
        description: "Messages per second produced on a topic minus those a consuming service processed from it. Each consumer group reads every message, so it is computed per consuming service. Persistently > 0: that consumer falls behind (its lag grows by this much per second).",
        unit: "reqps",
        w: 9,
        h: 8,
        thresholds: steps([0.1, "orange"], [1, "red"]),
        queries: [[producedMinusProcessed, "{{messaging_destination_name}} → {{service_name}}"]],
      }),
      graph({
        title: "Lag growth: broker vs OBI",
        description: "deriv of the broker's consumer-group lag (kafka-exporter) per topic and group, next to OBI's produced − processed: the two should agree. Group notifications = service events-notifications, analytics = events-analytics.",
        unit: "reqps",
        w: 9,
        h: 8,
        queries: [
          [`sum by (consumergroup, topic) (deriv(kafka_consumergroup_lag{topic=~"$topic"}[5m]))`, "{{topic}} / {{consumergroup}} (broker)"],
          [producedMinusProcessed, "{{messaging_destination_name}} → {{service_name}} (OBI)"],
        ],
      }),
    ]);
    section(d, "The broker's view (kafka-exporter)", [
      graph({
        title: "Consumer lag per partition (backend's view)",
        description: "Messages behind per group, topic and partition, as the broker knows it. OBI cannot see partitions or offsets. One partition lagging alone is a stuck or poisoned partition (its retries block it).",
        unit: "short",
        w: 12,
        thresholds: steps([100, "orange"], [1000, "red"]),
        queries: [[`sum by (consumergroup, topic, partition) (kafka_consumergroup_lag{topic=~"$topic"})`, "{{consumergroup}} {{topic}}/{{partition}}"]],
      }),
      graph({
        title: "Partitions per topic and group members (backend's view)",
        description: "Partitions of each topic and members of each consumer group: more members than partitions leaves members idle.",
        unit: "short",
        w: 12,
        queries: [
          [`max by (topic) (kafka_topic_partitions{topic=~"$topic"})`, "partitions {{topic}}"],
          [`max by (consumergroup) (kafka_consumergroup_members)`, "members {{consumergroup}}"],
        ],
      }),
      single({
        title: "Messages OBI could not attribute to a topic",
        description: "Processed messages per second with topic \"*\": Fetch v13+ carries topic ids, and OBI maps them from Metadata responses it saw (needs ebpf.buffer_sizes.kafka raised). Should be 0.",
        unit: "reqps",
        w: 6,
        thresholds: steps([0.001, "red"]),
        expr: `sum(${rate(`${PROC}_count`, `${NS}, messaging_destination_name="*"`)}) or vector(0)`,
      }),
      note(
        "What OBI cannot see here",
        "OBI sees produce and fetch requests and their topics. It cannot see **partitions, offsets or consumer-group lag**, and Kafka carries no trace context: those come from the broker (kafka-exporter). Since v0.14 the receiving side of Kafka is a CONSUMER span.",
        18,
        4,
      ),
    ]);
    section(d, "Logs", [
      logsPanel("Logs of the events services (Loki)", '{namespace="$namespace", service_name=~"events-.*"}', "events-producer and the consumers' JSON log lines (retries, DLQ writes); trace_id links to Tempo."),
    ]);
  },
);
