package io.tandem.ops;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import io.tandem.ops.demo.DemoModels;
import io.tandem.ops.eval.EvalReport;
import io.tandem.ops.eval.EvalRunner;
import io.tandem.ops.eval.ModeResult;
import io.tandem.ops.eval.Problem;
import io.tandem.orchestrator.session.Mode;
import io.tandem.protocol.Role;
import io.tandem.protocol.config.SpeculativeConfig;
import io.tandem.protocol.text.Plural;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code tandem eval}: accuracy, length and speed of each mode over a MATH500-style problem set,
 * through the same session and worker actors as the server.
 */
@Command(
    name = "eval",
    mixinStandardHelpOptions = true,
    description = {"Evaluate small, large and speculative modes on MATH500-style JSONL (problem, answer, unique_id): "
        + "accuracy, average output tokens, tokens/s, problems/s, takeovers, token shares.",
    "Without --data: the demo task's 500 held-out problems. Without --small/--large: the demo pair in ops/demo/ "
        + "(tiny models that add six two-digit numbers)."})
public final class EvalCommand implements Callable<Integer> {

  @Mixin ModelOptions models = new ModelOptions();

  @Option(names = "--data", description = "MATH500-style JSONL. Default: the demo held-out set (ops/demo/heldout.jsonl).")
  Path data;

  @Option(names = "--modes", split = ",", defaultValue = "small,large,speculative",
      description = "Modes to run, in order. Default: ${DEFAULT-VALUE}.")
  List<Mode> modes;

  @Option(names = "--limit", description = "Only the first N problems.")
  Integer limit;

  @Option(names = "--concurrency", defaultValue = "16", description = "Sessions in flight at once. Default: ${DEFAULT-VALUE}.")
  int concurrency;

  @Option(names = "--max-tokens", description = "Most tokens per answer. Default: 8192, or 768 on the demo set.")
  Integer maxTokens;

  @Option(names = "--prompt-template", defaultValue = EvalRunner.PAPER_PROMPT,
      description = "The user message; {problem} is replaced. Default: the paper's harness prompt.")
  String promptTemplate;

  @Option(names = "--out", description = "Folder for results.json, results.md, accuracy-vs-speed.png and samples-MODE.jsonl. Default: eval-results.")
  Path out;

  @Option(names = "--warmup", paramLabel = "N", description = "Problems each mode runs untimed before its measured run"
      + " (the first N, at most all of them; their answers are not scored). Default: the concurrency, at least 8.")
  Integer warmup;

  @Option(names = "--json", description = "Print results.json on stdout instead of the table.")
  boolean json;

  @Override
  public Integer call() throws Exception {
    System.setProperty("java.awt.headless", "true");
    if (limit != null) UsageError.atLeast("--limit", limit, 1);
    // Each session in flight takes a place in a worker's batch (max-batch is raised to it, below),
    // whose bound is the one to name here, not the setting the user never gave.
    UsageError.within("--concurrency", concurrency, 1, io.tandem.worker.WorkerSettings.MAX_BATCH);
    if (warmup != null) UsageError.atLeast("--warmup", warmup, 0);
    if (maxTokens != null) UsageError.atLeast("--max-tokens", maxTokens, 1);
    models.sampling(); // --temperature, --top-k, --top-p checked before any model loads
    if (!promptTemplate.contains("{problem}"))
      throw new UsageError("--prompt-template has no {problem}, so every problem would be sent as the same message;"
          + " put {problem} where each problem goes, e.g. \"Please reason step by step. {problem}\"");
    String dataset;
    List<Problem> problems;
    // A default is said as one (tester57f: "--max-tokens 8,192 is ..." of an option never given).
    boolean maxTokensGiven = maxTokens != null;
    if (data == null) {
      problems = Problem.readJsonl(DemoModels.dir().resolve("heldout.jsonl"));
      dataset = "demo sums (held-out)";
      if (maxTokens == null) maxTokens = 768;
    } else {
      ModelOptions.requireInputFile("--data", data, "give a MATH500-style JSONL file (one "
          + "{\"problem\": ..., \"answer\": ...} per line), or leave --data out for the demo held-out set");
      problems = Problem.readJsonl(data, limit != null ? limit : Integer.MAX_VALUE);
      // A pipe (<(head -5 math.jsonl), /dev/fd/63) is named by its path: its file name alone says nothing.
      dataset = Files.isRegularFile(data) ? data.getFileName().toString().replaceAll("\\.jsonl$", "") : data.toString();
      if (maxTokens == null) maxTokens = 8192;
    }
    Path outDir = out == null ? Path.of("eval-results") : out;
    ModelOptions.requireOutputFolder("--out", outDir);
    if (limit != null && limit > problems.size())
      System.err.printf("tandem eval: --limit %d is more than the %s in %s; running all of them%n", limit,
          Plural.count(problems.size(), "problem"), data == null ? "the demo held-out set" : data);
    if (limit != null) problems = problems.subList(0, Math.min(limit, problems.size()));
    int warm = Math.min(warmup != null ? warmup : Math.max(concurrency, 8), problems.size());
    if (warmup != null && warmup > warm)
      System.err.printf("tandem eval: --warmup %d is more than the %s to run; each mode warms up on all of them%n", warmup,
          Plural.count(problems.size(), "problem"));
    List<Role> needed = new ArrayList<>();
    if (modes.stream().anyMatch(m -> m != Mode.large)) needed.add(Role.small);
    if (modes.stream().anyMatch(m -> m != Mode.small)) needed.add(Role.large);

    Config base = ModelOptions.baseConfig();
    SpeculativeConfig speculative = models.speculative(base);
    Config config = models.nodeConfig(base, needed);
    // Every session in flight should fit in one batch, or the concurrency is partly queueing.
    for (String role : List.of("small", "large")) {
      String key = "tandem." + role + ".max-batch";
      if (config.getInt(key) < concurrency)
        config = config.withValue(key, com.typesafe.config.ConfigValueFactory.fromAnyRef(concurrency));
    }
    // Each step's times reach the run (the results' step_seconds).
    config = config.withValue("tandem.session.publish-step-timings", com.typesafe.config.ConfigValueFactory.fromAnyRef(true));
    Map<Role, RoleSpec> roles = pairThreads(ModelOptions.roleSpecs(config, needed), config, Map.of(Role.small, String.valueOf(models.small), Role.large, String.valueOf(models.large)));
    ModelOptions.requireEnginesAnswer(config, needed);
    long seed = models.seed == null ? 0 : models.seed;
    EvalRunner.Settings settings = new EvalRunner.Settings(promptTemplate, models.sampling(), seed, maxTokens,
        concurrency, speculative);

    PrintStream err = System.err;
    boolean progress = System.console() != null;
    List<ModeResult> results = new ArrayList<>();
    Map<String, ObjectNode> workers = new java.util.HashMap<>(); // per mode, per role: its forward passes
    // An earlier run's files go before this one begins: its results (written anew at the end) and samples (each mode's
    // anew as it ends), so that a run stopped midway leaves none of them beside its own (tester46c: Ctrl-C left a new
    // samples file of 100 problems beside a results.json of 500). Samples of a mode not run now would read as this
    // run's too, and are said to be removed (tester44a).
    // Said in one line, so that an earlier run's figures are not lost without a word (tester47d).
    List<String> removed = new ArrayList<>();
    for (String f : List.of("results.json", "results.md", "accuracy-vs-speed.png"))
      if (Files.deleteIfExists(outDir.resolve(f))) removed.add(f);
    for (Mode m : Mode.values()) {
      Path stale = outDir.resolve("samples-" + m + ".jsonl");
      if (!Files.deleteIfExists(stale)) continue;
      if (modes.contains(m)) removed.add(stale.getFileName().toString());
      else err.println("tandem eval: removed " + stale + ", an earlier run's (this run has no " + m + " mode)");
    }
    if (!removed.isEmpty())
      err.println("tandem eval: removed an earlier run's " + String.join(", ", removed) + " from " + outDir
          + ": give another --out to keep an earlier run");
    // Ctrl-C or SIGTERM: what is there, and what is not, said in one line.
    // What the folder holds depends on how far the run got (tester46f: "the samples of the modes that ended" was said of
    // a folder that held none).
    java.util.concurrent.atomic.AtomicInteger ended = new java.util.concurrent.atomic.AtomicInteger();
    Thread interrupted = new Thread(() -> err.println("tandem eval: interrupted: " + outDir + " holds " + (ended.get() == 0
        ? "nothing of this run, as no mode ended" : "the samples of the " + Plural.count(ended.get(), "mode") + " that ended ("
        + modes.subList(0, ended.get()).stream().map(Mode::name).collect(java.util.stream.Collectors.joining(", ")) + ")")
        + ", and no results.json (it is written when every mode has run)"));
    Runtime.getRuntime().addShutdownHook(interrupted);
    Map<Role, Integer> contexts = new java.util.EnumMap<>(Role.class);
    try (TandemNode node = TandemNode.start("tandem-eval", config, roles, true)) {
      // An answer ends where its model's context does, whatever --max-tokens says: said, and recorded beside it
      // (tester46c: --max-tokens 100000 on the demo pair's 1,024 tokens was recorded as if it had held).
      for (Role role : needed)
        WorkerStatsCollector.collect(node, role).stream().mapToInt(io.tandem.protocol.worker.WorkerProtocol.WorkerStats::contextLength).filter(c -> c > 0)
            .min().ifPresent(c -> contexts.put(role, c));
      String beyond = contexts.entrySet().stream().filter(e -> maxTokens >= e.getValue())
          .map(e -> String.format(java.util.Locale.ROOT, "%s: %,d tokens", e.getKey(), e.getValue())).collect(java.util.stream.Collectors.joining(", "));
      if (!beyond.isEmpty())
        err.printf(java.util.Locale.ROOT, "tandem eval: " + (maxTokensGiven ? "" : "the default ") + "--max-tokens %,d is as much as or more than the models' context (%s, the prompt included):"
            + " each answer ends where the context does; results.json records the context beside it (max_model_len)%n",
            maxTokens, beyond);
      for (Mode mode : modes) {
        // Untimed first: the JIT, PyTorch's first passes and the KV pool's growth would otherwise be
        // charged to whichever mode runs first. Then no mode starts from prefixes an earlier run
        // left cached (a large model's answer shares its forward pass with the small model's draft).
        if (warm > 0) {
          // Said on a terminal too: the warm-up draws no bar, and was a silent pause there (tester58e).
          err.printf("tandem eval: %s: warm-up, %s untimed%n", mode, Plural.count(warm, "problem"));
          EvalRunner.run(node, mode, problems.subList(0, warm), settings, new ArrayList<>(), err, false);
        }
        WorkerStatsCollector.resetPrefixCaches(node, needed);
        List<EvalRunner.Sample> samples = new ArrayList<>();
        Map<Role, long[]> before = workerPasses(node, needed);
        ModeResult r = EvalRunner.run(node, mode, problems, settings, samples, err, progress);
        Map<Role, long[]> after = workerPasses(node, needed);
        results.add(r);
        StringBuilder lines = new StringBuilder();
        for (EvalRunner.Sample s : samples) lines.append(EvalRunner.sampleJson(s)).append('\n');
        Files.writeString(outDir.resolve("samples-" + mode + ".jsonl"), lines);
        ended.incrementAndGet();
        // On a terminal too, under the finished bar, which shows neither speed nor step times (tester58e).
        StringBuilder steps = new StringBuilder();
        r.stepSeconds().forEach((role, st) -> steps.append(String.format(java.util.Locale.ROOT,
            ", %s step p50 %.0f ms p99 %.0f ms", role, st.p50() * 1000, st.p99() * 1000)));
        if (r.failed() == r.problems()) // nothing answered: no length or speed (as the table's row says: —)
          err.printf("tandem eval: %s: %d/%d correct (%.1f%%), no answer to measure, %.1f s%n", mode, r.correct(), r.problems(),
              100 * r.accuracy(), r.wallSeconds());
        else
          err.printf("tandem eval: %s: %d/%d correct (%.1f%%), %.1f tokens/answer, %.1f tokens/s, %.1f s%s%n", mode,
              r.correct(), r.problems(), 100 * r.accuracy(), r.avgTokens(), r.tokensPerS(), r.wallSeconds(), steps);
        // Failed problems count as wrong and as no tokens: say so, with the first one's error (tester44a
        // read "0/1 correct, 0.0 tokens/s", and no why).
        samples.stream().filter(sample -> sample.error() != null).findFirst().ifPresent(first -> err.printf(
            "tandem eval: %s: %s; %s%s: %s (samples-%s.jsonl has %s)%n",
            mode, EvalReport.failures(r), r.failed() == 1 ? "" : "the first, ",
            first.problem().id(), first.error(), mode, r.failed() == 1 ? "it" : "each"));
        // Where the mode's time went, per worker: its forward passes (the figures bench serve reads).
        for (Role role : needed) {
          long[] a = after.get(role);
          long[] b = before.get(role);
          long passes = a[0] - b[0];
          if (passes == 0) continue;
          double meanBatch = (a[1] - b[1]) / (double) passes;
          double busySeconds = (a[2] - b[2]) / 1e9;
          // An engine worker's steps are its requests, which overlap: their time summed may pass the wall time.
          err.printf(java.util.Locale.ROOT, "tandem eval: %s: %s worker: %d forward pass%s, mean batch %.2f, busy %.1f s"
              + " of %.1f s%s, %d prompt tokens prefilled%n", mode, role, passes, passes == 1 ? "" : "es", meanBatch, busySeconds,
              r.wallSeconds(),
              busySeconds > r.wallSeconds() ? " (its steps overlap: an engine's requests, their times summed)" : "", a[3] - b[3]);
          workers.computeIfAbsent(mode.name(), m -> com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode()).putObject(role.name())
              .put("forward_passes", passes)
              .put("mean_batch", Math.round(meanBatch * 100) / 100.0)
              .put("busy_s", Math.round(busySeconds * 10) / 10.0)
              .put("prompt_tokens_prefilled", a[3] - b[3]);
        }
      }
    } finally {
      try {
        Runtime.getRuntime().removeShutdownHook(interrupted);
      } catch (IllegalStateException stopping) {
        // Stopping now: the line says what is there.
      }
    }
    ObjectNode s = new ObjectMapper().createObjectNode();
    s.put("problems", problems.size());
    for (Role r : needed) s.put(r.name(), config.getString("tandem." + r + ".model"));
    s.put("temperature", models.temperature);
    s.put("top_k", models.topK);
    s.put("top_p", models.topP);
    s.put("seed", seed);
    s.put("max_tokens", maxTokens);
    ObjectNode context = s.putObject("max_model_len");
    contexts.forEach((role, c) -> context.put(role.name(), c));
    s.put("concurrency", concurrency);
    s.put("warmup_problems", warm);
    // The devices that ran the models: --device, else each role's tandem.ROLE.devices.
    Config ran = config;
    s.put("device", models.device != null ? models.device : needed.stream()
        .flatMap(r -> ran.getStringList("tandem." + r + ".devices").stream()).distinct()
        .collect(java.util.stream.Collectors.joining(",")));
    s.put("prompt_template", promptTemplate);
    ObjectNode threads = s.putObject("intra_op_threads");
    roles.forEach((r, spec) -> threads.put(r.name(), spec.threads()));
    String resultsJson = EvalReport.json(dataset, results, s, workers);
    String table = EvalReport.markdown(dataset, conditions(problems.size(), seed, contexts), results);
    Files.writeString(outDir.resolve("results.json"), resultsJson);
    Files.writeString(outDir.resolve("results.md"), table);
    EvalReport.chart(dataset, results, outDir.resolve("accuracy-vs-speed.png"));
    PrintStream stdout = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    stdout.print(json ? resultsJson + "\n" : table);
    if (!json) err.println("tandem eval: wrote " + outDir.resolve("results.json") + ", results.md, accuracy-vs-speed.png, "
        + modes.stream().map(m -> "samples-" + m + ".jsonl").collect(java.util.stream.Collectors.joining(", ")));
    // A mode whose every problem failed measured nothing: its row is no result (tester44d: exit 0, a Problems/s of 42.8).
    List<String> allFailed = results.stream().filter(r -> r.failed() == r.problems()).map(ModeResult::mode).toList();
    if (!allFailed.isEmpty())
      err.println("tandem eval: every problem failed in " + String.join(", ", allFailed) + ": nothing was measured there; see"
          + (results.stream().allMatch(r -> r.failed() <= 1) ? " the error above" : " the first error above"));
    return allFailed.isEmpty() ? 0 : 1;
  }

  /** Per role, its workers' {@link WorkerStatsCollector#batching} figures now. */
  private static Map<Role, long[]> workerPasses(TandemNode node, List<Role> roles) throws Exception {
    Map<Role, long[]> out = new java.util.EnumMap<>(Role.class);
    for (Role role : roles) out.put(role, WorkerStatsCollector.batching(WorkerStatsCollector.collect(node, role)));
    return out;
  }

  /**
   * Each role's intra-op threads as they would be with both roles on the node, so that a mode's
   * speed does not depend on the other modes of the run: {@code --modes large} alone would give the
   * large model every core, and on the 2-core build machine its tiny demo model then decoded at half
   * the speed it has beside the small model (1,300 tokens/s with one thread, 609 with two), so
   * {@code --modes large} and {@code --modes speculative} in two invocations compared unlike with
   * unlike. A role's {@code threads} set in the config is kept.
   *
   * @param flags per role the model flag given ({@code --small}, {@code --large}), the string
   *     {@code null} where none was
   */
  static Map<Role, RoleSpec> pairThreads(Map<Role, RoleSpec> roles, Config config, Map<Role, String> flags) {
    Map<Role, RoleSpec> pair = new java.util.EnumMap<>(Role.class);
    for (Role r : Role.values()) {
      try {
        RoleSpec spec = roles.containsKey(r) ? roles.get(r) : RoleSpec.fromConfig(config, r);
        String flag = flags.get(r); // a --small or --large given for a mode not run: where that model would run
        if (!roles.containsKey(r) && flag != null && !flag.equals("null"))
          spec = new RoleSpec(flag, spec.devices(), spec.settings(), spec.perTenantQueueLimit(), spec.precision(), spec.threads());
        pair.put(r, spec);
      } catch (RuntimeException e) {
        // The role not run has no usable spec (a model key unset): it takes no cores.
      }
    }
    int workers = TandemNode.cpuWorkers(pair);
    int cores = Runtime.getRuntime().availableProcessors();
    Map<Role, RoleSpec> out = new java.util.EnumMap<>(Role.class);
    roles.forEach((r, spec) -> out.put(r, spec.threads() > 0 ? spec : new RoleSpec(spec.model(), spec.devices(),
        spec.settings(), spec.perTenantQueueLimit(), spec.precision(), TandemNode.intraOpThreads(0, workers, cores))));
    return out;
  }

  /**
   * How the table's figures were measured, as a line under it: {@code 500 problems, 16 at a time,
   * greedy (temperature 0), at most 768 tokens an answer}, or the sampling's settings and seed; the
   * least of the models' contexts where it bounds the answers before {@code --max-tokens} does.
   */
  private String conditions(int problems, long seed, Map<Role, Integer> contexts) {
    String sampling = models.temperature == 0 ? "greedy (temperature 0)"
        : String.format(java.util.Locale.ROOT, "sampled: temperature %s, top-k %s, top-p %s, seed %d",
            plain(models.temperature), models.topK <= 0 ? "off" : String.valueOf(models.topK), plain(models.topP), seed);
    // A context at or below --max-tokens is the bound that holds, as the start's line says (tester58g).
    int context = contexts.values().stream().mapToInt(Integer::intValue).min().orElse(Integer.MAX_VALUE);
    String bound = context <= maxTokens ? String.format(java.util.Locale.ROOT, " (less where the %,d-token context ends first,"
        + " the prompt included)", context) : "";
    return String.format(java.util.Locale.ROOT, "%s, %d at a time, %s, at most %,d tokens an answer%s.",
        Plural.count(problems, "problem"), concurrency, sampling, maxTokens, bound);
  }

  /** {@code 0.6} as written, not {@code 0.600000}. */
  private static String plain(double value) {
    return java.math.BigDecimal.valueOf(value).stripTrailingZeros().toPlainString();
  }
}
