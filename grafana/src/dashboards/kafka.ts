// Kafka dashboard: Produce and Fetch requests as OBI sees them per topic, the DLQ rate — and the broker's
// own view (kafka-exporter: lag per partition, partitions, group members), the only source of message
// counts and lag: OBI v0.14 makes one span per Produce/Fetch request and topic and never reads the
// records (pkg/ebpf/common/kafka_detect_transform.go), so its counts are requests, not messages.
import { DLQ_TOPIC } from "../lab.js";
import { graph, labelVariable, logsPanel, mopDashboard, namespaceVariable, note, rate, redRow, section, single, steps } from "../panels.js";

const PUB = "messaging_client_operation_duration_seconds";
const PROC = "messaging_process_duration_seconds";
const NS = `k8s_namespace_name="$namespace"`;
const TOPIC = `messaging_destination_name=~"$topic"`;

export default mopDashboard(
  "mop-kafka",
  "MOP / Kafka",
  "Kafka traffic of the events services as OBI sees it (Produce and Fetch requests per topic, the DLQ) and the broker's own view (kafka-exporter: consumer lag per partition, partitions). OBI counts requests, not messages: message rates and lag come from the broker.",
  (d) => {
    d.withVariable(namespaceVariable(`${PUB}_count`));
    d.withVariable(labelVariable("topic", "Topic", `${PUB}_count{k8s_namespace_name="$namespace"}`, "messaging_destination_name"));
    section(
      d,
      "Produce requests (RED) — OBI, producer side",
      redRow({
        metric: PUB,
        sel: `${NS}, ${TOPIC}`,
        by: "messaging_destination_name",
        noun: "produce calls",
        latencyNote: "One observation per Produce request and topic (librdkafka batches messages into requests): the time until the broker acknowledged the batch.",
        slow: [0.05, 0.25],
      }),
    );
    section(
      d,
      "Fetch requests — OBI, consumer side (messaging_process_duration_seconds)",
      redRow({
        metric: PROC,
        sel: `${NS}, ${TOPIC}`,
        by: "messaging_destination_name, service_name",
        byTitle: "topic and consumer",
        legend: "{{messaging_destination_name}} ← {{service_name}}",
        noun: "fetch requests",
        latencyNote:
          "OBI names this 'process', but it is one Fetch request's round trip, not the time a consumer spent on a message: librdkafka's fetcher long-polls (fetch.wait.max.ms) whether or not the application keeps up, so a slow consumer does not show here — its lag does (broker's view below).",
        slow: [0.6, 1.5],
      }),
    );
    section(d, "Backlog and dead letters", [
      single({
        title: "DLQ rate",
        description: `Produce requests per second to the dead-letter topic '${DLQ_TOPIC}' (events that failed every attempt). OBI counts requests, not messages; events' consumers dead-letter one record at a time, so here the two agree. Anything above 0 is data that needs a human.`,
        unit: "reqps",
        w: 6,
        h: 8,
        thresholds: steps([0.0001, "red"]),
        expr: `sum(${rate(`${PUB}_count`, `${NS}, messaging_destination_name="${DLQ_TOPIC}"`)}) or vector(0)`,
      }),
      graph({
        title: "Lag growth per topic and group (backend's view)",
        description: "deriv of the broker's consumer-group lag (kafka-exporter) per topic and group: messages per second by which a group falls behind. Persistently > 0: that consumer is slower than its producers. OBI cannot give this: it counts Fetch requests, not messages. Group notifications = service events-notifications, analytics = events-analytics.",
        unit: "short",
        w: 18,
        h: 8,
        thresholds: steps([0.1, "orange"], [1, "red"]),
        queries: [[`sum by (consumergroup, topic) (deriv(kafka_consumergroup_lag{topic=~"$topic"}[5m]))`, "{{topic}} / {{consumergroup}}"]],
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
        title: "Fetch requests OBI could not attribute to a topic",
        description: "Fetch requests per second with topic \"*\": Fetch v13+ carries topic ids, and OBI maps them from Metadata responses it saw (needs ebpf.buffer_sizes.kafka raised, and OBI watching before the consumer's first Metadata exchange). Should be 0.",
        unit: "reqps",
        w: 6,
        thresholds: steps([0.001, "red"]),
        expr: `sum(${rate(`${PROC}_count`, `${NS}, messaging_destination_name="*"`)}) or vector(0)`,
      }),
      note(
        "What OBI cannot see here",
        "OBI sees Produce and Fetch **requests** and their topics — one span per request and topic; it never reads the records, so **message counts**, **consumer-group lag** and **processing time** are not OBI's (a Fetch's duration is the broker's long-poll). Those come from the broker (kafka-exporter). Kafka carries no trace context. Since v0.14 the receiving side of Kafka is a CONSUMER span.",
        18,
        4,
      ),
    ]);
    section(d, "Logs", [
      logsPanel("Logs of the events services (Loki)", '{namespace="$namespace", service_name=~"events-.*"}', "events-producer and the consumers' JSON log lines (retries, DLQ writes); trace_id links to Tempo."),
    ]);
  },
);
