// JavaCheck: an independent consumer built on the official Apache Pulsar Java
// client (the jars in the server distribution's lib/ directory).
//
// How this works: it subscribes to a topic from the earliest position,
// receives up to N messages or until the timeout, acknowledges each one, and
// then prints ONE JSON object per message on stdout, followed by
// {"done":true,"count":N}. Everything else (client logging, errors) goes to
// stderr: System.out is redirected to System.err before the client is
// touched, and the JSON lines are written to the original stdout. Exit codes:
// 0 on success (even if fewer than N messages arrived; the caller checks the
// count), 2 on errors and bad arguments.
//
// Usage: java -cp "classes:$PULSAR_HOME/lib/*" JavaCheck \
//          SERVICE_URL TOPIC COUNT TIMEOUT_MS exclusive|shared|failover|key_shared [SUBSCRIPTION]
//
// Per-message fields: topic, ledgerId, entryId, partition, batchIndex,
// batchSize (from MessageIdAdv; the Java client reports batchIndex -1 and
// batchSize 0 for a message that was not batched), payloadBase64,
// payloadLength, nullValue, properties, hasKey, key, keyBase64Encoded,
// hasOrderingKey, orderingKeyBase64, eventTime (0 if none), publishTime,
// sequenceId, producerName, replicateTo, deliverAtTime (null if none),
// compression, uncompressedSize, receivedAtMillis, redeliveryCount.

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.core.config.Configurator;
import org.apache.pulsar.client.api.Consumer;
import org.apache.pulsar.client.api.Message;
import org.apache.pulsar.client.api.MessageId;
import org.apache.pulsar.client.api.MessageIdAdv;
import org.apache.pulsar.client.api.PulsarClient;
import org.apache.pulsar.client.api.Schema;
import org.apache.pulsar.client.api.SubscriptionInitialPosition;
import org.apache.pulsar.client.api.SubscriptionType;
import org.apache.pulsar.client.impl.MessageImpl;
import org.apache.pulsar.client.impl.TopicMessageImpl;
import org.apache.pulsar.common.api.proto.MessageMetadata;

public final class JavaCheck {
    private JavaCheck() {}

    public static void main(String[] args) {
        // Keep stdout for our JSON only: anything that prints to System.out
        // (e.g. a console log appender) lands on stderr instead.
        PrintStream json = new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
        System.setOut(System.err);
        quietLogging();
        int code;
        try {
            code = run(args, json);
        } catch (Throwable e) {
            System.err.println("JavaCheck: " + e);
            e.printStackTrace(System.err);
            code = 2;
        }
        json.flush();
        System.err.flush();
        // The client may leave non-daemon threads behind; do not wait for them.
        Runtime.getRuntime().halt(code);
    }

    // The bookkeeper-server jar in lib/ ships a log4j2.xml that logs INFO to
    // the console; lower the client's chatter to WARN (override with
    // -Djavacheck.logLevel=INFO). Logging is optional: ignore any failure.
    private static void quietLogging() {
        try {
            Configurator.setRootLevel(Level.toLevel(System.getProperty("javacheck.logLevel", "WARN"), Level.WARN));
        } catch (Throwable e) {
            System.err.println("JavaCheck: could not set the log level: " + e);
        }
    }

    private static int run(String[] args, PrintStream json) throws Exception {
        if (args.length < 5 || args.length > 6) {
            System.err.println("usage: JavaCheck SERVICE_URL TOPIC COUNT TIMEOUT_MS "
                    + "exclusive|shared|failover|key_shared [SUBSCRIPTION]");
            return 2;
        }
        String serviceUrl = args[0];
        String topic = args[1];
        int want = Integer.parseInt(args[2]);
        long timeoutMs = Long.parseLong(args[3]);
        SubscriptionType type = parseType(args[4]);
        String subscription = args.length == 6 ? args[5] : "javacheck-" + UUID.randomUUID();

        ObjectMapper mapper = new ObjectMapper();
        List<Map<String, Object>> records = new ArrayList<>();
        long t0 = System.currentTimeMillis();
        // The client is not closed: closing it shuts its event loops down
        // gracefully, which costs ~2 s, and main() halts the JVM anyway.
        // Closing the consumer flushes pending acknowledgments and frees the
        // subscription for the next consumer.
        PulsarClient client = PulsarClient.builder().serviceUrl(serviceUrl).build();
        Consumer<byte[]> consumer = client.newConsumer(Schema.BYTES)
                .topic(topic)
                .subscriptionName(subscription)
                .subscriptionType(type)
                .subscriptionInitialPosition(SubscriptionInitialPosition.Earliest)
                .subscribe();
        long subscribed = System.currentTimeMillis();
        long deadline = subscribed + timeoutMs;
        while (records.size() < want) {
            long remaining = deadline - System.currentTimeMillis();
            if (remaining <= 0) {
                break;
            }
            Message<byte[]> msg = consumer.receive((int) Math.min(remaining, Integer.MAX_VALUE), TimeUnit.MILLISECONDS);
            if (msg == null) {
                break;
            }
            long receivedAt = System.currentTimeMillis();
            records.add(describe(msg, receivedAt));
            consumer.acknowledge(msg);
        }
        long received = System.currentTimeMillis();
        consumer.close();
        System.err.printf("JavaCheck: jvm start to client build %d ms, subscribe %d ms, receive+ack %d messages %d ms, close %d ms%n",
                t0 - java.lang.management.ManagementFactory.getRuntimeMXBean().getStartTime(),
                subscribed - t0, records.size(), received - subscribed, System.currentTimeMillis() - received);
        for (Map<String, Object> r : records) {
            json.println(mapper.writeValueAsString(r));
        }
        Map<String, Object> done = new LinkedHashMap<>();
        done.put("done", true);
        done.put("count", records.size());
        json.println(mapper.writeValueAsString(done));
        json.flush();
        return 0;
    }

    private static SubscriptionType parseType(String s) {
        switch (s.toLowerCase()) {
            case "exclusive":
                return SubscriptionType.Exclusive;
            case "shared":
                return SubscriptionType.Shared;
            case "failover":
                return SubscriptionType.Failover;
            case "key_shared":
            case "keyshared":
                return SubscriptionType.Key_Shared;
            default:
                throw new IllegalArgumentException("unknown subscription type " + s);
        }
    }

    private static Map<String, Object> describe(Message<byte[]> msg, long receivedAt) {
        // A consumer of a partitioned topic is a multi-topics consumer whose
        // messages wrap the per-partition MessageImpl.
        Message<?> inner = msg;
        while (inner instanceof TopicMessageImpl) {
            inner = ((TopicMessageImpl<?>) inner).getMessage();
        }
        MessageMetadata md = inner instanceof MessageImpl ? ((MessageImpl<?>) inner).getMessageBuilder() : null;

        // In 4.0 every id the consumer hands out implements MessageIdAdv,
        // including TopicMessageIdImpl (messages of a partitioned topic),
        // which delegates to the per-partition id.
        MessageId id = msg.getMessageId();
        if (!(id instanceof MessageIdAdv)) {
            throw new IllegalStateException("message id " + id + " (" + id.getClass() + ") is not a MessageIdAdv");
        }
        MessageIdAdv adv = (MessageIdAdv) id;

        byte[] data = msg.getData();
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("topic", msg.getTopicName());
        r.put("ledgerId", adv.getLedgerId());
        r.put("entryId", adv.getEntryId());
        r.put("partition", adv.getPartitionIndex());
        r.put("batchIndex", adv.getBatchIndex());
        r.put("batchSize", adv.getBatchSize());
        r.put("payloadBase64", Base64.getEncoder().encodeToString(data == null ? new byte[0] : data));
        r.put("payloadLength", data == null ? 0 : data.length);
        r.put("nullValue", md != null && md.hasNullValue() && md.isNullValue());
        r.put("properties", new TreeMap<>(msg.getProperties()));
        r.put("hasKey", msg.hasKey());
        r.put("key", msg.hasKey() ? msg.getKey() : null);
        r.put("keyBase64Encoded", msg.hasBase64EncodedKey());
        r.put("hasOrderingKey", msg.hasOrderingKey());
        r.put("orderingKeyBase64", msg.hasOrderingKey() ? Base64.getEncoder().encodeToString(msg.getOrderingKey()) : null);
        r.put("eventTime", msg.getEventTime());
        r.put("publishTime", msg.getPublishTime());
        r.put("sequenceId", msg.getSequenceId());
        r.put("producerName", msg.getProducerName());
        r.put("replicateTo", md != null ? new ArrayList<>(md.getReplicateTosList()) : new ArrayList<String>());
        r.put("deliverAtTime", md != null && md.hasDeliverAtTime() ? md.getDeliverAtTime() : null);
        r.put("compression", md != null && md.hasCompression() ? md.getCompression().name() : "NONE");
        r.put("uncompressedSize", md != null && md.hasUncompressedSize() ? md.getUncompressedSize() : null);
        r.put("receivedAtMillis", receivedAt);
        r.put("redeliveryCount", msg.getRedeliveryCount());
        return r;
    }
}
