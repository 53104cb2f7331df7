package io.tandem.ops.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tandem.orchestrator.eval.MathAnswers;
import io.tandem.orchestrator.session.Mode;
import io.tandem.orchestrator.session.SessionEvent;
import io.tandem.orchestrator.session.SessionRequest;
import io.tandem.orchestrator.session.SessionRunner;
import io.tandem.ops.TandemNode;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.Counters;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.config.SpeculativeConfig;
import java.io.PrintStream;
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

  /** Runs {@code problems} in {@code mode}; {@code samples} receives each outcome in problem order. */
  public static ModeResult run(TandemNode node, Mode mode, List<Problem> problems, Settings settings,
      List<Sample> samples, PrintStream err, boolean progress) throws Exception {
    ProgressBar bar = new ProgressBar(err, progress, mode.name(), problems.size());
    Semaphore slots = new Semaphore(settings.concurrency());
    AtomicInteger done = new AtomicInteger();
    AtomicInteger correct = new AtomicInteger();
    Sample[] out = new Sample[problems.size()];
    List<CompletableFuture<Void>> all = new ArrayList<>();
    bar.update(0, 0);
    long t0 = System.nanoTime();
    for (int i = 0; i < problems.size(); i++) {
      slots.acquire();
      Problem p = problems.get(i);
      int index = i;
      String user = settings.promptTemplate().replace("{problem}", p.problem());
      // Each problem draws from its own seed, so a mode's answers do not depend on scheduling.
      SamplingParams sampling = settings.sampling().withSeed(settings.seed() + i);
      SessionRequest request = new SessionRequest("eval-" + mode + "-" + i + "-" + System.nanoTime(), "eval",
          Prompt.chat(List.of(new ChatMessage("user", user))), sampling, settings.maxTokens(), settings.speculative(),
          mode, false);
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
    return new ModeResult(mode.name(), n, correct.get(), answered, failed, (double) tokens / n, tokens / wall, n / wall,
        (double) takeovers / n, small / written, large / written, injected / written, wall);
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
