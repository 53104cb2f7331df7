package io.tandem.ops.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.SerializationTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.Adapter;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import com.typesafe.config.ConfigFactory;
import io.tandem.orchestrator.session.Mode;
import io.tandem.orchestrator.session.SessionEvent;
import io.tandem.orchestrator.session.SessionRequest;
import io.tandem.protocol.Author;
import io.tandem.protocol.FailureCode;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.Chunk;
import io.tandem.protocol.Counters;
import io.tandem.protocol.FinishReason;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.Span;
import io.tandem.protocol.SpanReason;
import io.tandem.protocol.Token;
import io.tandem.protocol.Trace;
import io.tandem.protocol.config.SpeculativeConfig;
import io.tandem.protocol.worker.WorkerProtocol;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every message that crosses nodes goes through Jackson CBOR (Tandem's application.conf, Java
 * serialization off) and comes back equal, actor references included.
 */
class CrossNodeSerializationTest {
  private static ActorTestKit kit;
  private static SerializationTestKit serialization;

  @BeforeAll
  static void start() {
    kit = ActorTestKit.create("serialization", ConfigFactory.parseString("akka.loglevel = WARNING")
        .withFallback(ConfigFactory.load()));
    serialization = new SerializationTestKit(kit.system());
  }

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  private static Object roundTrip(Object message) {
    Serialization ser = SerializationExtension.get(Adapter.toClassic(kit.system()));
    assertEquals("akka.serialization.jackson.JacksonCborSerializer", ser.findSerializerFor(message).getClass().getName(),
        () -> message.getClass() + " would not go as CBOR");
    serialization.verifySerialization(message, true);
    return message;
  }

  @Test
  void workerRequestsAndRepliesRoundTripAsCborWithTheirActorRefs() {
    TestProbe<WorkerProtocol.Reply> replies = kit.createTestProbe();
    TestProbe<WorkerProtocol.WorkerStats> stats = kit.createTestProbe();
    List<Token> tokens = List.of(new Token(7, "So"), new Token(8, ",\n\n"));
    WorkerProtocol.Limits limits = new WorkerProtocol.Limits("Let me check:", 20, 100, true, List.of("\n\n"));
    roundTrip(new WorkerProtocol.Generate("s1", "tenant", 3, -1,
        Prompt.chat(List.of(new ChatMessage("user", "Compute 2+2."))), List.of(new Chunk("qwen", tokens)), limits,
        new SamplingParams(0.6, 50, 0.95, 42L), true, replies.getRef()));
    roundTrip(new WorkerProtocol.Generate("s1", "", 4, 12, null, List.of(new Chunk(null, tokens)), limits,
        SamplingParams.GREEDY, false, replies.getRef()));
    roundTrip(new WorkerProtocol.Generate("s1", "", 5, -1, Prompt.raw("raw text"), List.of(), limits,
        SamplingParams.PAPER, false, replies.getRef()));
    roundTrip(new WorkerProtocol.Partial(3, 2, List.of(), tokens, "qwen"));
    roundTrip(new WorkerProtocol.Done(3, "qwen", tokens, tokens, true, 12, 30, 1_000_000, 2_000_000, 5));
    roundTrip(new WorkerProtocol.Resync(3, -1));
    roundTrip(new WorkerProtocol.Rejected(3, FailureCode.QUEUE_FULL, "queue full"));
    roundTrip(new WorkerProtocol.Failed(3, FailureCode.MODEL_ERROR, "boom"));
    roundTrip(new WorkerProtocol.Cancel("s1", 3));
    roundTrip(new WorkerProtocol.Release("s1"));
    roundTrip(new WorkerProtocol.GetStepStatus("s1", 3, replies.getRef()));
    roundTrip(new WorkerProtocol.StepStatus(3, false, true));
    roundTrip(WorkerProtocol.Stop.INSTANCE);
    roundTrip(new WorkerProtocol.GetStats(stats.getRef()));
    roundTrip(new WorkerProtocol.WorkerStats("large-worker-gpu0", "large", "m", 4096, 2, 16, 10, 160, 300, 160,
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13));
    TestProbe<WorkerProtocol.SessionsInFlight> inFlight = kit.createTestProbe();
    TestProbe<WorkerProtocol.Command> worker = kit.createTestProbe();
    roundTrip(new WorkerProtocol.CountSessions(io.tandem.protocol.Role.large, worker.getRef(), inFlight.getRef()));
    roundTrip(new WorkerProtocol.SessionsInFlight(3, true));
    TestProbe<WorkerProtocol.TokenCount> counted = kit.createTestProbe();
    roundTrip(new WorkerProtocol.CancelCount(counted.getRef())); // equal after the trip: the worker finds its count by it
    roundTrip(new WorkerProtocol.TokenCount(3, null, null, 4096, 151_936, null, List.of(1, 2, 3)));
    roundTrip(WorkerProtocol.TokenCount.workerLost("its engine was lost (engine 127.0.0.1:9 unreachable)"));
  }

  @Test
  void sessionRequestsAndEventsRoundTripAsCbor() {
    Trace trace = new Trace("So,\n\nWAIT", FinishReason.stop,
        List.of(new Span(Author.small, SpanReason.draft, 0, 2, "So,\n\n"), new Span(Author.large, SpanReason.takeover, 2, 3, "WAIT")),
        new Counters(1, 1, 1, 0, 0, 0, 2, 1, 0, 0, 0));
    roundTrip(new SessionRequest("s1", "t", Prompt.chat(List.of(new ChatMessage("user", "hi"))), SamplingParams.PAPER,
        512, SpeculativeConfig.paperDefaults(), Mode.speculative, true));
    roundTrip(new SessionEvent.Delta(Author.large, SpanReason.takeover, List.of(new Token(1, "WAIT")), 7));
    roundTrip(new SessionEvent.Finished(trace, new SessionEvent.Usage(5, 3, 2), true, 1_500_000L));
    roundTrip(new SessionEvent.Failed(FailureCode.NO_WORKER, "no large worker is available", trace));
  }

  @Test
  void aMessageThatIsNotCborSerializableIsRefusedRatherThanJavaSerialized() {
    Serialization ser = SerializationExtension.get(Adapter.toClassic(kit.system()));
    // java.io.Serializable alone is not enough: allow-java-serialization = off.
    assertThrows(Exception.class, () -> ser.serialize(new java.util.ArrayList<>(List.of("x"))).get());
  }

  /**
   * The largest messages a request within {@code tandem.http.max-body-size} makes fit one Artery
   * frame as Tandem configures it (Akka's default, 256 KiB, dropped a count of a 300 KB prompt, and
   * the request got a retryable 503 that never cleared): a prompt of that many bytes, its count
   * with a token id of five CBOR bytes per byte, and ids whose text is three times their size.
   */
  @Test
  void theLargestMessagesOfARequestWithinTheBodyLimitFitOneFrame() {
    com.typesafe.config.Config config = kit.system().settings().config();
    long body = io.tandem.orchestrator.http.HttpSettings.fromConfig(config).maxBodyBytes();
    long frame = config.getBytes(ClusterConfig.FRAME_SIZE);
    ClusterConfig.requireFrameFor(config, body);
    Serialization ser = SerializationExtension.get(Adapter.toClassic(kit.system()));
    TestProbe<WorkerProtocol.TokenCount> replyTo = kit.createTestProbe();
    String text = "7".repeat((int) body);
    List<Integer> ids = java.util.Collections.nCopies((int) body, 151_643);
    List<Integer> sent = java.util.Collections.nCopies((int) body / 7, 151_643); // "151643," each
    for (Object message : List.of(
        new WorkerProtocol.CountTokens(Prompt.raw(text), null, null, replyTo.getRef(), 5_000),
        new WorkerProtocol.CountTokens(null, sent, "prompt", replyTo.getRef(), 5_000),
        new WorkerProtocol.TokenCount(ids.size(), null, null, 32_768, 151_936, null, ids),
        new WorkerProtocol.TokenCount(sent.size(), "<|endoftext|>".repeat(sent.size()), "key", 32_768, 151_936, null, null))) {
      int size = ser.serialize(message).get().length;
      org.junit.jupiter.api.Assertions.assertTrue(size <= ClusterConfig.frameFor(body) && size <= frame,
          message.getClass().getSimpleName() + " of " + size + " bytes, the frame " + frame);
    }
  }

  /** A frame too small for the body limit is refused at start, naming the setting and what it needs. */
  @Test
  void aFrameTooSmallForTheBodyLimitIsRefusedAtStart() {
    com.typesafe.config.Config small = ConfigFactory.parseString(ClusterConfig.FRAME_SIZE + " = 256KiB\n"
        + "tandem.cluster.enabled = on").withFallback(ConfigFactory.load());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ClusterConfig.resolve(small));
    assertEquals("akka.remote.artery.advanced.maximum-frame-size is 262144 bytes, too small for requests of up to 1048576"
        + " bytes (tandem.http.max-body-size): a prompt's count crosses nodes in one frame; give at least 6553600 bytes,"
        + " on every node alike, or a smaller max-body-size", e.getMessage());
  }

  /** A frame so large that Artery's buffers of its size would exhaust direct memory is refused at start. */
  @Test
  void aFrameTooLargeForDirectMemoryIsRefusedAtStart() {
    long direct = ClusterConfig.maxDirectMemory();
    com.typesafe.config.Config huge = ConfigFactory.parseString(ClusterConfig.FRAME_SIZE + " = " + (direct / 16 + 1) + "\n"
        + "tandem.cluster.enabled = on").withFallback(ConfigFactory.load());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ClusterConfig.resolve(huge));
    assertEquals(ClusterConfig.FRAME_SIZE + " is " + (direct / 16 + 1) + " bytes, more than a sixteenth of this JVM's direct"
        + " memory (" + direct + " bytes: -XX:MaxDirectMemorySize, else -Xmx), whose buffers of that size it takes; give at"
        + " most " + direct / 16 + " bytes, or more memory", e.getMessage());
  }
}
