package io.tandem.ops;

import akka.actor.typed.javadsl.AskPattern;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import io.tandem.orchestrator.TraceJson;
import io.tandem.orchestrator.session.Mode;
import io.tandem.orchestrator.session.SessionEvent;
import io.tandem.orchestrator.session.SessionRequest;
import io.tandem.orchestrator.session.SessionRunner;
import io.tandem.orchestrator.session.Sessions;
import io.tandem.orchestrator.session.WorkerDirectory;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.FailureCode;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.Role;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.config.PaperConfigLoader;
import io.tandem.protocol.config.SpeculativeConfig;
import io.tandem.protocol.text.Plural;
import io.tandem.protocol.worker.WorkerProtocol;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tandem generate}: one generation through the session and worker actors, with its trace. */
@Command(
    name = "generate",
    mixinStandardHelpOptions = true,
    description = {
      "Generate one answer with Speculative Thinking (or one model alone) and print it.",
      "Without --small/--large: the demo pair in ops/demo/ (tiny models that add six two-digit numbers)."
    })
public final class GenerateCommand implements Callable<Integer>, Interruptible {

  @Mixin ModelOptions models = new ModelOptions();

  @Option(names = "--prompt", description = "The user message (or the raw prompt with --no-chat-template).")
  String prompt;

  @Option(names = "--case", description = "A scripted case file {small: [...], large: [...], config: {...}, prompt: ...} (as in the "
      + "fixtures). --prompt takes the place of its prompt; scripted models write their script whatever the prompt.")
  Path caseFile;

  @Option(names = "--max-tokens", defaultValue = "4096", description = "Most tokens to generate. Default: ${DEFAULT-VALUE},"
      + " or what fits after the prompt in the smaller model's context where that is less (a value given must fit).")
  int maxTokens;

  @Option(names = "--mode", defaultValue = "speculative", description = "speculative, small or large. Default: ${DEFAULT-VALUE}.")
  Mode mode;

  @Option(names = "--no-chat-template", description = "Feed the prompt as it is, without the chat template.")
  boolean noChatTemplate;

  @Option(names = "--trace", description = "Write the trace (spans, counters) as JSON to this file (its folder is created if missing).")
  Path trace;

  @Option(names = "--quiet", description = "Print only the answer: no log lines, no summary.")
  boolean quiet;

  /** The folder a --case's scripts are written to; removed when the command ends, however it ends. */
  private ScratchFolder scratch;

  @Override
  public String whenInterrupted() {
    return "any text printed above is all it wrote";
  }

  /** Whether the answer's text so far ends within a line (set as it is printed). */
  private volatile boolean lineOpen;

  @Override
  public boolean lineOpen() {
    return lineOpen;
  }

  /** Guards the answer's printing, which {@link #silence} ends. */
  private final Object printing = new Object();
  private boolean silenced;

  @Override
  public void silence() {
    synchronized (printing) {
      silenced = true;
    }
  }

  @Override
  public Integer call() throws Exception {
    models.quietWarnings = quiet;
    try {
      return generate();
    } finally {
      // Here, not at the end of generate(): a failed command halts the JVM (Tandem.main), which runs no clean-up.
      if (scratch != null) scratch.close();
    }
  }

  private Integer generate() throws Exception {
    // The flags' own values are checked before anything is read or loaded: a mistake comes alone.
    UsageError.atLeast("--max-tokens", maxTokens, 1);
    if (prompt == null && caseFile == null) throw new UsageError("no prompt: give --prompt \"...\" (or --case FILE)");
    // As /v1/completions refuses an empty prompt (a chat's empty message still has its template around it).
    if (noChatTemplate && prompt != null && prompt.isEmpty())
      throw new UsageError("--prompt is empty: with --no-chat-template it is fed as it is, and the model needs at least"
          + " one token to continue; give some text, or leave --no-chat-template out");
    SamplingParams sampling = models.sampling();
    SpeculativeConfig speculative;
    Config base = ModelOptions.baseConfig();
    if (caseFile != null) {
      if (models.small != null || models.large != null)
        throw new UsageError("--case brings its own scripted models, which --" + (models.small != null ? "small" : "large")
            + " would be dropped for; give --case or --small/--large, not both");
      ScriptedCase scriptedCase = ScriptedCase.read("--case", caseFile);
      JsonNode root = scriptedCase.root;
      if (root.has("config") && models.config != null)
        throw new UsageError("--case brings its own speculative config, which --config would be dropped for; give one of them");
      scratch = ScratchFolder.create("tandem-case");
      models.small = scriptedCase.writeScript(Role.small, scratch.path());
      models.large = scriptedCase.writeScript(Role.large, scratch.path());
      // (tester49b: "--large scripted:/tmp/tandem-case.../large.json is not used" of a --mode small run, a flag not given)
      models.fromCase = true;
      speculative = root.has("config")
          ? PaperConfigLoader.fromTree(root.get("config"), "--case " + caseFile).config()
          : models.speculative(base);
      if (scriptedCase.maxTokens() != null && !hasExplicitMaxTokens()) maxTokens = scriptedCase.maxTokens();
      else if (!hasExplicitMaxTokens()) maxTokens = 100_000;
      if (prompt == null) prompt = scriptedCase.prompt() != null ? scriptedCase.prompt() : "";
    } else {
      speculative = models.speculative(base);
    }
    if (trace != null) ModelOptions.requireOutputFile("--trace", trace);
    // Quiet means no log line at all: a failure still ends in the one-line error of Tandem's handler.
    if (quiet) for (String logger : List.of(org.slf4j.Logger.ROOT_LOGGER_NAME, "io.tandem", "akka"))
      ((ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(logger)).setLevel(ch.qos.logback.classic.Level.OFF);
    List<Role> needed = new java.util.ArrayList<>();
    if (mode != Mode.large) needed.add(Role.small);
    if (mode != Mode.small) needed.add(Role.large);
    Config config = models.nodeConfig(base, needed);
    Map<Role, RoleSpec> roles = ModelOptions.roleSpecs(config, needed);
    ModelOptions.requireEnginesAnswer(config, needed);
    requireMaxTokensBelowContexts(config, needed);

    // Said even with --quiet: the text that follows would otherwise look like a fault of the server.
    boolean demo = caseFile == null
        // A role served by engines alone has no model, which is not the demo's (tester57j).
        && needed.stream().allMatch(r -> !config.getString("tandem." + r + ".model").isBlank()
            && io.tandem.ops.demo.DemoModels.isDemo(config.getString("tandem." + r + ".model"), r.name()));
    if (demo && !io.tandem.ops.demo.DemoModels.isTaskQuestion(prompt)) System.err.println(offTaskWarning(needed));
    int low = io.tandem.ops.demo.DemoModels.totalBelowTrained(prompt);
    if (demo && low >= 0)
      System.err.println("tandem generate: this sum's total, " + low + ", is below 100, which six numbers from 10 to 99 rarely"
          + " reach; the demo models have not learnt such sums, and their answer is likely wrong");
    Prompt p = noChatTemplate ? Prompt.raw(prompt) : Prompt.chat(List.of(new ChatMessage("user", prompt)));
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    long started = System.nanoTime();
    try (TandemNode node = TandemNode.start("tandem-generate", config, roles, true)) {
      int maxNewTokens = withinContext(node, p, needed, config);
      // The generation's own time, apart from the JVM's start and the models' load (tester44a read a 1.5 s generation as 12 s).
      long t0 = System.nanoTime();
      SessionRequest request = new SessionRequest(UUID.randomUUID().toString(), "cli", p, sampling,
          maxNewTokens, speculative, mode, true);
      java.util.concurrent.atomic.AtomicBoolean wrote = new java.util.concurrent.atomic.AtomicBoolean();
      SessionEvent end = SessionRunner.run(node.system(), node.sessions(), request, d -> {
        synchronized (printing) {
          if (silenced) return;
          if (!d.text().isEmpty()) {
            wrote.set(true);
            lineOpen = !d.text().endsWith("\n");
          }
          out.print(d.text());
        }
      }).toCompletableFuture().get(24, TimeUnit.HOURS);
      // The answer's line ends; a failure before any text leaves stdout empty.
      synchronized (printing) {
        if (!silenced && (wrote.get() || end instanceof SessionEvent.Finished)) out.println();
        lineOpen = false;
      }
      if (end instanceof SessionEvent.Failed f) {
        // The prompt's length is the command line's mistake (exit 2), as a 400 context_length_exceeded is the client's.
        if (f.code() == FailureCode.CONTEXT_LENGTH_EXCEEDED)
          throw new UsageError("--prompt: " + f.message().replaceFirst("^\\w+ worker failed: ", "") + "; give a shorter prompt");
        throw new IllegalStateException(f.message());
      }
      SessionEvent.Finished fin = (SessionEvent.Finished) end;
      if (trace != null) {
        ObjectNode json = TraceJson.toJson(fin.trace());
        ObjectNode usage = json.putObject("usage").put("prompt_tokens", fin.usage().promptTokens())
            .put("completion_tokens", fin.usage().completionTokens());
        if (fin.usage().cachedTokens() >= 0) usage.putObject("prompt_tokens_details").put("cached_tokens", fin.usage().cachedTokens());
        try {
          Files.writeString(trace, TraceJson.write(json));
        } catch (java.io.IOException e) {
          // A device that takes no more (/dev/full), a disk that filled during the generation.
          throw new IllegalArgumentException("--trace " + trace + ": cannot write it (" + Tandem.message(e) + ")", e);
        }
      }
      if (!quiet) {
        double s = (System.nanoTime() - t0) / 1e9;
        var c = fin.trace().counters();
        System.err.printf(java.util.Locale.ROOT, "tandem: %s, %s (small %d, large %d, injected %d), %s, %s, generated in %.2f s"
            + " (after %.1f s loading the models)%n",
            fin.trace().finishReason(), Plural.count(fin.usage().completionTokens(), "token"), c.smallTokens(), c.largeTokens(),
            c.injectedTokens(), Plural.count(c.takeovers(), "takeover"), Plural.count(c.recaps(), "recap"), s, (t0 - started) / 1e9);
      }
      return 0;
    }
  }

  /**
   * What a prompt outside the demo task gets from the demo models of {@code roles}, whether their
   * folders were given ({@code --small ops/demo/small}) or left to the default: the other models to
   * give are named by their flags either way.
   */
  static String offTaskWarning(List<Role> roles) {
    boolean pair = roles.size() == 2;
    return "tandem generate: " + (pair ? "the demo pair answers" : "the demo " + roles.get(0) + " model answers")
        + " only sums of six numbers from 10 to 99 written exactly as \"Compute 40 + 85 + 79 + 26 + 57 + 87.\" is (single"
        + " spaces, the full stop; alone, or after eval's instruction); expect a wrong answer or text without meaning for this prompt, or give "
        + (pair ? "other models with --small and --large" : "another model with --" + roles.get(0));
  }

  /**
   * The tokens to generate: {@code --max-tokens} when the prompt and it fit the smallest context of
   * the {@code needed} roles' models, as a request's {@code max_tokens} must on the HTTP API (vLLM's
   * rule); without the flag, its default capped to what fits, as the API's default is. The prompt is
   * counted by the first role's worker, as the API counts it; where no worker answers within {@code
   * tandem.session.worker-wait}, the session says so itself and the flag is left as it is.
   *
   * @throws UsageError a prompt or {@code --max-tokens} past the context, in vLLM's numbers
   */
  private int withinContext(TandemNode node, Prompt p, List<Role> needed, Config config) throws Exception {
    ContextRoom room = ContextRoom.of(node, p, needed, config.getDuration("tandem.session.worker-wait"));
    // The session's own step names the problem, or the loss.
    if (room == null) return maxTokens;
    int promptTokens = room.promptTokens();
    int context = room.context();
    String whose = room.whose();
    if (promptTokens >= context)
      throw new UsageError("--prompt: the prompt has " + promptTokens + " tokens, and " + whose + " context is " + context
          + " tokens: a prompt may have at most " + (context - 1) + ", for room to generate; give a shorter prompt");
    if ((long) promptTokens + maxTokens <= context) return maxTokens;
    if (!hasExplicitMaxTokens()) return context - promptTokens;
    throw new UsageError("--max-tokens " + maxTokens + ": " + whose + " context is " + context + " tokens, and the prompt has "
        + promptTokens + ", so at most " + (context - promptTokens) + " can be generated; give --max-tokens "
        + (context - promptTokens) + " or less (or leave it out: it defaults to what fits)");
  }

  /**
   * Refuses, before any model loads, a {@code --max-tokens} that no prompt leaves room for: as much
   * as or more than a checkpoint folder's context ({@code config.json}), which the prompt shares
   * (tester57f: said after both models had loaded). The exact bound, the prompt counted, is {@link
   * #withinContext}'s once the models run; scripted models and engines are left to it.
   *
   * @throws UsageError {@code --max-tokens N: ROLE model's context is C tokens, the prompt included; ...}
   */
  private void requireMaxTokensBelowContexts(Config config, List<Role> needed) {
    if (!hasExplicitMaxTokens()) return;
    Map<Role, Integer> contexts = new java.util.EnumMap<>(Role.class);
    for (Role r : needed) {
      String model = config.getString("tandem." + r + ".model");
      // A role served by engines alone has no model (tester57i: "" read the working directory's config.json).
      if (model.isBlank() || !Files.isRegularFile(java.nio.file.Path.of(model).resolve("config.json"))) continue;
      try {
        contexts.put(r, io.tandem.inference.hf.HfConfig.load(java.nio.file.Path.of(model)).contextLength());
      } catch (RuntimeException unreadable) {
        // the load says what is wrong with it
      }
    }
    int context = contexts.values().stream().mapToInt(Integer::intValue).min().orElse(Integer.MAX_VALUE);
    if (maxTokens < context) return;
    // Named as the bound after the load names it.
    Role smallest = contexts.entrySet().stream().filter(e -> e.getValue() == context).findFirst().orElseThrow().getKey();
    String whose = needed.size() == 1 ? "the model's" : contexts.size() == needed.size() && contexts.values().stream()
        .allMatch(c -> c == context) ? "each model's" : "the " + smallest + " model's";
    throw new UsageError("--max-tokens " + maxTokens + ": " + whose + " context is " + context + " tokens, the prompt"
        + " included, so at most " + (context - 1) + " can be generated, fewer by the prompt's tokens; give --max-tokens "
        + (context - 1) + " or less (or leave it out: it defaults to what fits)");
  }

  private boolean hasExplicitMaxTokens() {
    return spec != null && spec.commandLine().getParseResult().hasMatchedOption("--max-tokens");
  }

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;
}
