package io.tandem.orchestrator.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.receptionist.Receptionist;
import com.typesafe.config.ConfigFactory;
import io.tandem.inference.scripted.ScriptedModel;
import io.tandem.protocol.Author;
import io.tandem.protocol.Counters;
import io.tandem.protocol.FailureCode;
import io.tandem.protocol.FinishReason;
import io.tandem.protocol.Role;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.SpanReason;
import io.tandem.protocol.worker.WorkerProtocol;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code tandem.session.skip-takeover-above}: when the large worker's queue would hold an optional
 * takeover longer than the setting, the session skips it and the small model goes on.
 */
class SkipTakeoverTest {
  private static final ScriptedCase CASE = ScriptedCase.example();

  /** The node's directory, except that it reports {@code wait} as every large queue's expected wait. */
  private static Behavior<WorkerDirectory.Command> reportingQueueWait(ActorRef<WorkerDirectory.Command> real,
      Duration wait) {
    return Behaviors.receive(WorkerDirectory.Command.class)
        .onMessage(WorkerDirectory.GetQueueWait.class, g -> {
          g.replyTo().tell(new WorkerDirectory.QueueWait(wait));
          return Behaviors.same();
        })
        .onAnyMessage(m -> {
          real.tell(m);
          return Behaviors.same();
        })
        .build();
  }

  private static SessionEvent.Finished run(Duration skipAbove, Duration queueWait) throws Exception {
    SessionSettings settings = new SessionSettings(Duration.ofSeconds(1), Duration.ofMinutes(1), false, 4)
        .withSkipTakeoverAbove(skipAbove);
    try (World w = new World(ConfigFactory.empty(), settings)) {
      w.worker(Role.small, "small", new ScriptedModel("small", CASE.small()));
      w.worker(Role.large, "large", new ScriptedModel("large", CASE.large()));
      ActorRef<WorkerDirectory.Command> directory = w.kit.spawn(reportingQueueWait(w.directory, queueWait));
      ActorRef<Sessions.Command> sessions = w.kit.spawn(Sessions.create(directory, settings));
      SessionEvent end = SessionRunner.run(w.kit.system(), sessions, w.request(CASE.config(), true), null)
          .toCompletableFuture().get(30, TimeUnit.SECONDS);
      return assertInstanceOf(SessionEvent.Finished.class, end, () -> "ended with " + end);
    }
  }

  @Test
  void aTakeoverThatWouldQueueLongerThanTheSettingIsSkippedAndTheSmallModelGoesOn() throws Exception {
    SessionEvent.Finished f = run(Duration.ofSeconds(2), Duration.ofSeconds(5));
    Counters c = f.trace().counters();
    assertEquals(FinishReason.stop, f.trace().finishReason(), "the small model wrote on to its end");
    assertEquals(0, c.takeovers(), c.toString());
    assertTrue(c.takeoversSkipped() > 0, "the takeovers the answer would have had are counted as skipped: " + c);
    assertFalse(f.trace().spans().stream().anyMatch(s -> s.author() == Author.large && s.reason() == SpanReason.takeover),
        "the large model wrote no takeover (recaps and verifications are not optional)");
    assertFalse(f.degraded(), "skipping is the policy, not a loss");
  }

  @Test
  void aTakeoverThatQueuesWithinTheSettingRunsAsTheAlgorithmSays() throws Exception {
    SessionEvent.Finished f = run(Duration.ofSeconds(2), Duration.ofMillis(500));
    assertEquals(CASE.expectedText(), f.trace().text());
    assertEquals(0, f.trace().counters().takeoversSkipped());
    assertTrue(f.trace().counters().takeovers() > 0);
  }

  /** A large worker whose queue holds its tenant's share for good: it refuses every request. */
  private static final Behavior<WorkerProtocol.Command> TENANT_SHARE_HELD = Behaviors.receive(WorkerProtocol.Command.class)
      .onMessage(WorkerProtocol.Generate.class, g -> {
        g.replyTo().tell(new WorkerProtocol.Rejected(g.requestId(), FailureCode.TENANT_QUEUE_FULL,
            "large worker L queue already holds 2 requests of tenant 'acme'"));
        return Behaviors.same();
      })
      .onAnyMessage(m -> Behaviors.same())
      .build();

  private static SessionEvent againstTheTenantsShareHeld(Duration skipAbove) throws Exception {
    SessionSettings settings = new SessionSettings(Duration.ofSeconds(1), Duration.ofMinutes(1), false, 4)
        .withSkipTakeoverAbove(skipAbove);
    try (World w = new World(ConfigFactory.empty(), settings)) {
      w.worker(Role.small, "small", new ScriptedModel("small", CASE.small()));
      ActorRef<WorkerProtocol.Command> large = w.kit.spawn(TENANT_SHARE_HELD);
      w.kit.system().receptionist().tell(Receptionist.register(ServiceKeys.forRole(Role.large), large));
      w.awaitListed(Role.large, 1);
      return w.run(w.request(CASE.config(), true), null).get(30, TimeUnit.SECONDS);
    }
  }

  /** The tenant's share of the queue met is the tenant's limit, said as such (a 429 over HTTP), not the server at capacity. */
  @Test
  void aTakeoverRefusedForTheTenantsShareFailsAsTheTenantsLimit() throws Exception {
    SessionEvent end = againstTheTenantsShareHeld(null);
    SessionEvent.Failed f = assertInstanceOf(SessionEvent.Failed.class, end, () -> "ended with " + end);
    assertEquals(FailureCode.TENANT_QUEUE_FULL, f.code());
    // Under way (the small model wrote first), the session waited worker-wait (1 s here) for room, then failed.
    assertEquals("no large worker took more of this tenant's requests for 1 s (tandem.session.worker-wait) after the request had"
        + " begun: large worker L queue already holds 2 requests of tenant 'acme'", f.message());
  }

  /**
   * A large worker in front of {@code real} that refuses the first {@code refusals} takeovers (not the
   * prefills ahead) for a full queue, as one whose queue other sessions hold for a moment.
   */
  private static Behavior<WorkerProtocol.Command> fullFor(int refusals, ActorRef<WorkerProtocol.Command> real,
      java.util.concurrent.atomic.AtomicInteger refused, FailureCode code) {
    return Behaviors.receive(WorkerProtocol.Command.class)
        .onMessage(WorkerProtocol.Generate.class, g -> {
          if (!g.limits().equals(WorkerProtocol.Limits.PREFILL_AHEAD) && refused.get() < refusals) {
            refused.incrementAndGet();
            g.replyTo().tell(new WorkerProtocol.Rejected(g.requestId(), code, "large worker L queue is full"));
          } else {
            real.tell(g);
          }
          return Behaviors.same();
        })
        .onAnyMessage(m -> {
          real.tell(m);
          return Behaviors.same();
        })
        .build();
  }

  /**
   * A takeover refused for a full queue mid-answer waits for room (and the answer is the algorithm's,
   * whole), where the request ended with a 429 or 503 after its text; the queue limit is admission
   * control, which a request under way has passed.
   */
  @Test
  void aRequestUnderWayWaitsForRoomInAFullQueueAndFinishesWhole() throws Exception {
    for (FailureCode code : new FailureCode[] {FailureCode.QUEUE_FULL, FailureCode.TENANT_QUEUE_FULL}) {
      SessionSettings settings = new SessionSettings(Duration.ofSeconds(5), Duration.ofMinutes(1), false, 4);
      try (World w = new World(ConfigFactory.empty(), settings)) {
        w.worker(Role.small, "small", new ScriptedModel("small", CASE.small()));
        ActorRef<WorkerProtocol.Command> real = w.worker(Role.large, "large", new ScriptedModel("large", CASE.large()));
        w.awaitListed(Role.large, 1);
        // Only the refusing front is listed: the session cannot spill over to the real worker.
        w.kit.system().receptionist().tell(Receptionist.deregister(ServiceKeys.forRole(Role.large), real));
        w.awaitListed(Role.large, 0);
        java.util.concurrent.atomic.AtomicInteger refused = new java.util.concurrent.atomic.AtomicInteger();
        ActorRef<WorkerProtocol.Command> front = w.kit.spawn(fullFor(3, real, refused, code));
        w.kit.system().receptionist().tell(Receptionist.register(ServiceKeys.forRole(Role.large), front));
        w.awaitListed(Role.large, 1);
        SessionEvent end = w.run(w.request(CASE.config(), true), null).get(30, TimeUnit.SECONDS);
        SessionEvent.Finished f = assertInstanceOf(SessionEvent.Finished.class, end, () -> code + ": ended with " + end);
        assertEquals(3, refused.get(), code + ": the takeovers were refused before room was found");
        assertEquals(CASE.expectedText(), f.trace().text(), code.toString());
        assertEquals(0, f.trace().counters().takeoversSkipped(), code.toString());
      }
    }
    // Its pauses between tries: 50 ms, doubling up to 800 ms.
    assertEquals(java.util.List.of(50L, 100L, 200L, 400L, 800L, 800L), java.util.stream.IntStream.range(0, 6)
        .mapToObj(i -> SessionActor.roomRetryAfter(i).toMillis()).toList());
  }

  @Test
  void underTheOverloadPolicyATakeoverRefusedForTheTenantsShareIsSkipped() throws Exception {
    SessionEvent end = againstTheTenantsShareHeld(Duration.ofSeconds(2));
    SessionEvent.Finished f = assertInstanceOf(SessionEvent.Finished.class, end, () -> "ended with " + end);
    assertEquals(0, f.trace().counters().takeovers());
    assertTrue(f.trace().counters().takeoversSkipped() > 0, f.trace().counters().toString());
  }
}
