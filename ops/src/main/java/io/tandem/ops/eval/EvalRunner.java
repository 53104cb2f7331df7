package io.tandem.ops.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tandem.orchestrator.eval.MathAnswers;
import io.tandem.orchestrator.session.Mode;
import io.tandem.orchestrator.session.SessionEvent;
import io.tandem.orchestrator.session.SessionRequest;
import io.tandem.orchestrator.session.SessionRunner;
import io.tandem.ops.ContextRoom;
import io.tandem.ops.TandemNode;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.Counters;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.config.SpeculativeConfig;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.Props;
import akka.actor.typed.eventstream.EventStream;
import akka.actor.typed.javadsl.Behaviors;
import io.tandem.orchestrator.session.StepTimings;
import io.tandem.protocol.Role;
import java.io.PrintStream;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs every problem of a set in one mode through a node's session actors, {@code concurrency}
 * sessions at a time, and scores the answers.
 */
public final class EvalRunner {

  /**
   * The paper's prompt: its harness (skythought_evals, {@code tasks/math/math500.yaml}) writes
   * {@code "Please reason step by step, and put your final answer within \boxed{}. {problem}"}
   * (followed there by {@code " <think>\n"} for the R1 distills, which their chat templates now add).
   */
  public static final String PAPER_PROMPT = "Please reason step by step, and put your final answer within \\boxed{}. {problem}";

  /** How to run: the prompt template, sampling, limits. */
  public record Settings(String promptTemplate, SamplingParams sampling, long seed, int maxTokens, int concurrency,
      SpeculativeConfig speculative) {}

  /** One problem's outcome. */
  public record Sample(Problem problem, String text, String extracted, boolean correct, int tokens, Counters counters,
      String finishReason, String error) {}

  private static final ObjectMapper JSON = new ObjectMapper();

  private EvalRunner() {}

  /**
   * Runs {@code problems} in {@code mode}; {@code samples} receives each outcome in problem order.
   * With {@code tandem.session.publish-step-timings} on in the node, the result has the step
   * times per role ({@link ModeResult#stepSeconds()}).
   */
  public static ModeResult run(TandemNode node, Mode mode, List<Problem> problems, Settings settings,
      List<Sample> samples, PrintStream err, boolean progress) throws Exception {
    StepCollector steps = new StepCollector(node, mode);
    ProgressBar bar = new ProgressBar(err, progress, mode.name(), problems.size());
    Semaphore slots = new Semaphore(settings.concurrency());
    AtomicInteger done = new AtomicInteger();
    AtomicInteger correct = new AtomicInteger();
    Sample[] out = new Sample[problems.size()];
    List<CompletableFuture<Void>> all = new ArrayList<>();
    bar.update(0, 0);
    java.time.Duration wait = node.system().settings().config().getDuration("tandem.session.worker-wait");
    long t0 = System.nanoTime();
    for (int i = 0; i < problems.size(); i++) {
      slots.acquire();
      Problem p = problems.get(i);
      int index = i;
      String user = settings.promptTemplate().replace("{problem}", p.problem());
      // Each problem draws from its own seed, so a mode's answers do not depend on scheduling.
      SamplingParams sampling = settings.sampling().withSeed(settings.seed() + i);
      Prompt prompt = Prompt.chat(List.of(new ChatMessage("user", user)));
      // Capped at what fits after the prompt, as the server caps max_tokens and generate --max-tokens: a speculative answer
      // ends where the smaller context does, not up to the next takeover after the large model's is full (tester55d: 326
      // tokens beside a 300-token context).
      ContextRoom room = ContextRoom.of(node, prompt, mode == Mode.speculative ? List.of(Role.small, Role.large)
          : List.of(mode == Mode.large ? Role.large : Role.small), wait);
      if (room != null && room.left() <= 0) {
        // No room to generate: failed, as the server's 400 and generate's refusal say; a speculative session would have gone
        // on with the small model alone (tester55g: 158 tokens beside a large model of 20 tokens of context).
        out[index] = score(p, new SessionEvent.Failed(io.tandem.protocol.FailureCode.CONTEXT_LENGTH_EXCEEDED, "the prompt has "
            + room.promptTokens() + " tokens, and " + room.whose() + " context is " + room.context() + " tokens: no room to"
            + " generate", null));
        bar.update(done.incrementAndGet(), correct.get());
        slots.release();
        continue;
      }
      int maxTokens = room != null ? Math.min(settings.maxTokens(), room.left()) : settings.maxTokens();
      SessionRequest request = new SessionRequest("eval-" + mode + "-" + i + "-" + System.nanoTime(), "eval",
          prompt, sampling, maxTokens, settings.speculative(), mode, false);
      CompletableFuture<Void> f = SessionRunner.run(node.system(), node.sessions(), request, null)
          .toCompletableFuture()
          .thenAccept(end -> {
            out[index] = score(p, end);
            if (out[index].correct()) correct.incrementAndGet();
            bar.update(done.incrementAndGet(), correct.get());
          })
          .whenComplete((v, e) -> slots.release());
      all.add(f);
    }
    CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(24, TimeUnit.HOURS);
    double wall = (System.nanoTime() - t0) / 1e9;
    Map<String, ModeResult.StepSeconds> stepSeconds = steps.finish();
    long tokens = 0;
    long small = 0;
    long large = 0;
    long injected = 0;
    long takeovers = 0;
    int failed = 0;
    int answered = 0;
    for (Sample s : out) {
      samples.add(s);
      tokens += s.tokens();
      if (s.error() != null) failed++;
      if (s.extracted() != null) answered++;
      if (s.counters() != null) {
        small += s.counters().smallTokens();
        large += s.counters().largeTokens();
        injected += s.counters().injectedTokens();
        takeovers += s.counters().takeovers();
      }
    }
    double written = Math.max(1, small + large + injected);
    int n = problems.size();
    // A failed problem wrote nothing: the mean length is the answers' (tester44d read 110 tokens for one answer of 330).
    double avgTokens = failed == n ? 0 : (double) tokens / (n - failed);
    // Takeovers per problem as the length is: of the problems that ran (tester46c: 0.67 where each answer had 1); and
    // problems/s too, as a failed problem ends at once with nothing written (tester53a: failures raised the rate).
    return new ModeResult(mode.name(), n, correct.get(), answered, failed, avgTokens, tokens / wall, (n - failed) / wall,
        failed == n ? 0 : (double) takeovers / (n - failed), small / written, large / written, injected / written, wall,
        stepSeconds);
  }

  /**
   * The {@link StepTimings} the node's sessions publish during one mode's run: a subscriber on the
   * event stream, and {@link #finish} waits for a marker published after the last session ended
   * (the stream delivers in order), so every step published before it is counted.
   */
  private static final class StepCollector {
    private final TandemNode node;
    private final String marker;
    private final ConcurrentLinkedQueue<StepTimings> seen = new ConcurrentLinkedQueue<>();
    private final CompletableFuture<Void> markerSeen = new CompletableFuture<>();
    private final ActorRef<StepTimings> ref;

    StepCollector(TandemNode node, Mode mode) {
      this.node = node;
      this.marker = "eval-steps-" + mode + "-" + System.nanoTime();
      Behavior<StepTimings> b = Behaviors.receive(StepTimings.class).onMessage(StepTimings.class, t -> {
        if (!t.sessionId().equals(marker)) {
          seen.add(t);
          return Behaviors.same();
        }
        markerSeen.complete(null);
        return Behaviors.stopped();
      }).build();
      ref = node.system().systemActorOf(b, marker, Props.empty());
      node.system().eventStream().tell(new EventStream.Subscribe<>(StepTimings.class, ref));
    }

    /** Per role, the median and p99 of queue plus compute time of every step; stops collecting. */
    Map<String, ModeResult.StepSeconds> finish() throws Exception {
      node.system().eventStream().tell(new EventStream.Publish<>(new StepTimings(marker, Role.small, "", 0, 0, 0, 0, 0)));
      markerSeen.get(30, TimeUnit.SECONDS);
      node.system().eventStream().tell(new EventStream.Unsubscribe<>(ref));
      Map<String, ModeResult.StepSeconds> out = new TreeMap<>();
      for (Role role : Role.values()) {
        double[] s = seen.stream().filter(t -> t.role() == role).mapToDouble(t -> (t.queueNanos() + t.computeNanos()) / 1e9)
            .sorted().toArray();
        if (s.length > 0) out.put(role.name(), new ModeResult.StepSeconds(s.length, quantile(s, 0.5), quantile(s, 0.99)));
      }
      return out;
    }

    /** The nearest-rank quantile of sorted {@code s}. */
    private static double quantile(double[] s, double q) {
      return s[Math.max(0, (int) Math.ceil(q * s.length) - 1)];
    }
  }

  static Sample score(Problem p, SessionEvent end) {
    if (end instanceof SessionEvent.Finished f) {
      String text = f.trace().text();
      String extracted = MathAnswers.lastBoxed(text).orElse(null);
      boolean ok = extracted != null && MathAnswers.equivalent(extracted, p.answer());
      return new Sample(p, text, extracted, ok, f.usage().completionTokens(), f.trace().counters(),
          f.trace().finishReason() == null ? null : f.trace().finishReason().name(), null);
    }
    SessionEvent.Failed failed = (SessionEvent.Failed) end;
    return new Sample(p, failed.partial() == null ? "" : failed.partial().text(), null, false, 0, null, null,
        failed.message());
  }

  /** One line of {@code samples-MODE.jsonl}. */
  public static String sampleJson(Sample s) throws Exception {
    ObjectNode o = JSON.createObjectNode();
    o.put("unique_id", s.problem().id());
    o.put("answer", s.problem().answer());
    o.put("extracted", s.extracted());
    o.put("correct", s.correct());
    o.put("tokens", s.tokens());
    o.put("finish_reason", s.finishReason());
    if (s.counters() != null) {
      o.put("takeovers", s.counters().takeovers());
      o.put("small_tokens", s.counters().smallTokens());
      o.put("large_tokens", s.counters().largeTokens());
    }
    if (s.error() != null) o.put("error", s.error());
    o.put("text", s.text());
    return JSON.writeValueAsString(o);
  }
}
