package io.tandem.ops;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tandem.inference.hf.TrainableDecoder;
import io.tandem.ops.demo.DemoModels;
import io.tandem.ops.demo.DemoTokenizer;
import io.tandem.ops.demo.DemoTrainer;
import io.tandem.ops.demo.SumTask;
import io.tandem.protocol.text.Plural;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code tandem train-demo}: trains the demo small/large pair on the sums task, in Java with DJL. */
@Command(
    name = "train-demo",
    mixinStandardHelpOptions = true,
    description = "Train the demo pair on sums of six two-digit numbers: a weak small Qwen2 model that "
        + "re-checks every step at length, and a stronger large one that verifies once and says whether the sums "
        + "match. Saves them as Hugging Face folders OUT/small and OUT/large.")
public final class TrainDemoCommand implements Callable<Integer> {

  /** 2 layers, hidden 64: quick to train, and it slips on carries often enough to be worth guiding. */
  public static final TrainableDecoder.Shape2 SMALL = new TrainableDecoder.Shape2(0, 64, 256, 2, 4, 2, 1024);
  /**
   * 4 layers, hidden 192, 6 heads over 2 KV heads: the shape a large model is trained in from
   * scratch; the committed one was then grown to 12 layers ({@code --large-layers 12}).
   */
  public static final TrainableDecoder.Shape2 LARGE = new TrainableDecoder.Shape2(0, 192, 512, 4, 6, 2, 1024);

  /** The deepest large model train-demo makes: 64 layers of this width are 25M weights, hours a step away from useful. */
  static final int MAX_LARGE_LAYERS = 64;

  @Option(names = "--out", required = true, description = "Folder to write small/ and large/ into.")
  Path out;

  @Option(names = "--seed", defaultValue = "1", description = "Seed of the weights and the training data. Default: ${DEFAULT-VALUE}.")
  long seed;

  @Option(names = "--small-minutes", defaultValue = "6", description = "Training time of the small model. Default: ${DEFAULT-VALUE}.")
  double smallMinutes;

  @Option(names = "--large-minutes", defaultValue = "13", description = "Training time of the large model. Default: ${DEFAULT-VALUE}.")
  double largeMinutes;

  @Option(names = "--small-steps", defaultValue = "0", description = "Train the small model for exactly this many steps instead (reproducible).")
  int smallSteps;

  @Option(names = "--large-steps", defaultValue = "0", description = "Train the large model for exactly this many steps instead (reproducible).")
  int largeSteps;

  @Option(names = "--init-from", description = "Continue training the models in this folder (its small/ and large/) instead of starting from random weights.")
  Path initFrom;

  @Option(names = "--small-lr", defaultValue = "3e-3", description = "Peak learning rate of the small model. Default: ${DEFAULT-VALUE}.")
  float smallLr;

  @Option(names = "--large-lr", defaultValue = "1.5e-3", description = "Peak learning rate of the large model. Default: ${DEFAULT-VALUE}.")
  float largeLr;

  @Option(names = "--large-layers", description = "Layers of the large model. With --init-from a large model of "
      + "fewer layers (a number that divides this one), it is grown by block expansion (LLaMA Pro): each layer copied, "
      + "the copies' output projections zero, so training starts from what that model computes, and only the copies "
      + "are trained. Default: the --init-from model's, else 4.")
  Integer largeLayers;

  @Option(names = "--large-traces", defaultValue = "decisive", description = "What the large model learns to write: "
      + "decisive (verify once, both sums beside the verdict) or verifying (the first demo pair's traces: slips corrected "
      + "by \"Wait, ...\" paragraphs, then a verification and the verdict alone). Default: ${DEFAULT-VALUE}.")
  String largeTraces;

  @Option(names = "--slip", description = "Chance that a forward step of the large model's training traces slips. "
      + "Default: " + SumTask.SLIP + " (decisive), " + SumTask.VERIFYING_SLIP + " (verifying).")
  Double slip;

  @Option(names = "--corrected", defaultValue = SumTask.VERIFYING_CORRECTED + "", description = "Verifying traces: "
      + "share of slips corrected at once by a \"Wait, ...\" paragraph; the rest end in a verification that does not "
      + "match. Default: ${DEFAULT-VALUE}.")
  double corrected;

  @Option(names = "--misread", description = "Chance that the forward steps of the large model's training traces copy a "
      + "number from the question with a digit off; only the verification, reading the question, catches it. "
      + "Default: " + SumTask.MISREAD + " (decisive), 0 (verifying).")
  Double misread;

  @Option(names = "--verdict-weight", defaultValue = "1", description = "Weight of the loss on the tokens that decide the large model's verdict: each digit comparison's second word (a digit or not) and the verdict (Yes / Wait); at least 1 (1: weighted as every other token). Default: ${DEFAULT-VALUE}.")
  float verdictWeight;

  @Option(names = "--save-every", defaultValue = "0", description = "Also save a snapshot every N steps, to OUT/small-stepN and OUT/large-stepN. Default: 0, only at the end.")
  int saveEvery;

  @Option(names = "--only", defaultValue = "both", description = "small, large or both. Default: ${DEFAULT-VALUE}.")
  String only;

  @Option(names = "--force", description = "Overwrite a model already in --out (as make-checkpoint --force).")
  boolean force;

  @picocli.CommandLine.Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    if (!List.of("small", "large", "both").contains(only))
      throw new UsageError("--only " + only + ": give small, large or both");
    for (String role : List.of("small", "large")) {
      // Steps win over minutes in DemoTrainer: both given, the minutes would be dropped without a word.
      if (given("--" + role + "-steps") && given("--" + role + "-minutes"))
        throw new UsageError("--" + role + "-steps " + (role.equals("small") ? smallSteps : largeSteps) + ": give --" + role
            + "-steps or --" + role + "-minutes, not both (steps are reproducible, minutes depend on the machine)");
    }
    for (String role : List.of("small", "large")) {
      double minutes = role.equals("small") ? smallMinutes : largeMinutes;
      if (given("--" + role + "-minutes") && !(minutes > 0 && minutes <= 10_000))
        throw new UsageError(refusing("--" + role + "-minutes", minutes) + "give a positive number of minutes, at most 10000");
    }
    // 0 is the options' "not given" (train for minutes instead): given, it would be dropped without a word.
    if (given("--small-steps")) UsageError.atLeast("--small-steps", smallSteps, 1);
    if (given("--large-steps")) UsageError.atLeast("--large-steps", largeSteps, 1);
    if (given("--corrected") && !(corrected >= 0 && corrected <= 1))
      throw new UsageError(refusing("--corrected", corrected) + "give a share from 0 to 1");
    if (given("--corrected") && !largeTraces.equals("verifying"))
      throw new UsageError("--corrected is for --large-traces verifying (decisive traces correct nothing); drop it, or give"
          + " --large-traces verifying");
    UsageError.atLeast("--save-every", saveEvery, 0);
    // Named by its flag here, before anything loads (tester50d: the trainer's own refusal said "small: the learning rate").
    for (String role : List.of("small", "large")) {
      float lr = role.equals("small") ? smallLr : largeLr;
      if (given("--" + role + "-lr") && !(lr > 0 && Float.isFinite(lr)))
        throw new UsageError(refusing("--" + role + "-lr", lr) + "give a positive learning rate, such as 0.001");
    }
    // Named by its flag, as the others (tester54d: "large: the verdict weight must be at least 1").
    if (given("--verdict-weight") && !(verdictWeight >= 1 && Float.isFinite(verdictWeight)))
      throw new UsageError(refusing("--verdict-weight", verdictWeight) + "give a weight of at least 1 (1: weighted as every"
          + " other token)");
    if (slip != null && !(slip >= 0 && slip < 1)) throw new UsageError(refusing("--slip", slip) + "give a chance from 0 to below 1");
    if (misread != null && !(misread >= 0 && misread < 1))
      throw new UsageError(refusing("--misread", misread) + "give a chance from 0 to below 1");
    // A flag of the model --only leaves out would be dropped without a word, a mistake in it unseen.
    List<String> largeFlags = List.of("--large-steps", "--large-minutes", "--large-lr", "--large-layers", "--large-traces",
        "--slip", "--corrected", "--misread", "--verdict-weight");
    List<String> smallFlags = List.of("--small-steps", "--small-minutes", "--small-lr");
    for (String flag : only.equals("small") ? largeFlags : only.equals("large") ? smallFlags : List.<String>of()) {
      if (given(flag))
        throw new UsageError(flag + " is for the " + (only.equals("small") ? "large" : "small") + " model, which --only "
            + only + " does not train: drop it, or train both");
    }
    if (initFrom != null) {
      // A folder that is not there is exit 1, as any model folder's (README; tester49, tester50d: 2 here alone).
      if (!Files.isDirectory(initFrom))
        throw new IllegalArgumentException("--init-from " + initFrom + ": no such folder" + ModelOptions.fromWorkingFolder(initFrom)
            + "; give the folder holding small/ and large/, as --out writes them");
      for (String role : only.equals("both") ? List.of("small", "large") : List.of(only)) {
        if (!Files.isDirectory(initFrom.resolve(role)))
          throw new IllegalArgumentException("--init-from " + initFrom + ": it has no " + role + "/ folder, the " + role
              + " model to continue (give the folder holding small/ and large/, as --out writes them)");
      }
    }
    if (!List.of("decisive", "verifying").contains(largeTraces))
      throw new UsageError("--large-traces " + largeTraces + ": give decisive or verifying");
    boolean verifying = largeTraces.equals("verifying");
    double slipRate = slip != null ? slip : verifying ? SumTask.VERIFYING_SLIP : SumTask.SLIP;
    double misreadRate = misread != null ? misread : verifying ? 0.0 : SumTask.MISREAD;
    DemoTokenizer tok = DemoTokenizer.build();
    int vocab = tok.vocabSize();
    // Both plans are made (and their rates, steps and learning rates checked) before anything is
    // written or trained: a mistake in the large model's flags must not wait for the small model.
    List<DemoTrainer.Plan> plans = new ArrayList<>();
    // Read before the plans, whose refusals are usage errors: an --init-from config that is no JSON is a file's fault (exit 1).
    int layersOfLarge = only.equals("small") ? 0 : largeLayers();
    try {
      if (!only.equals("large")) {
        plans.add(new DemoTrainer.Plan("small", withVocab(SMALL, vocab), 16, smallLr, smallMinutes, smallSteps,
            initFrom == null ? null : initFrom.resolve("small"), DemoTrainer.Traces.OVER_REFLECTING, slipRate, corrected, misreadRate, saveEvery, 1f));
      }
      if (!only.equals("small")) {
        TrainableDecoder.Shape2 large = new TrainableDecoder.Shape2(vocab, LARGE.hidden(), LARGE.intermediate(),
            layersOfLarge, LARGE.heads(), LARGE.kvHeads(), LARGE.maxPositions());
        plans.add(new DemoTrainer.Plan("large", large, 16, largeLr, largeMinutes, largeSteps,
            initFrom == null ? null : initFrom.resolve("large"), verifying ? DemoTrainer.Traces.VERIFYING : DemoTrainer.Traces.DECISIVE, slipRate, corrected, misreadRate, saveEvery,
            verdictWeight));
      }
    } catch (IllegalArgumentException e) {
      throw new UsageError(e.getMessage(), e);
    }
    for (DemoTrainer.Plan plan : plans) if (plan.init() != null) requireInitShape(plan);
    ModelOptions.requireOutputFolder("--out", out);
    // A model there would be overwritten at its first save: the demo pair itself, with --out ops/demo (tester44a).
    // So would its snapshots (tester54d: OUT/small-step10 overwritten without a word), and with --force an earlier run's
    // snapshots this run does not write would read as its own: they go, and the run says so.
    List<Path> held = new ArrayList<>();
    List<String> roles = new ArrayList<>();
    for (DemoTrainer.Plan plan : plans) {
      List<Path> of = modelsOf(out, plan.name());
      held.addAll(of);
      if (!of.isEmpty()) roles.add(plan.name());
    }
    if (!force && !held.isEmpty()) {
      boolean one = held.size() == 1;
      String where = held.stream().map(Path::toString).collect(java.util.stream.Collectors.joining(", "));
      // The committed demo pair is every command's default: --force there replaces it (tester55d), which is said.
      boolean demo = isDemoFolder(out);
      // One model a role: "a small and a large model", not "2 small and large models" (tester56d).
      String models = held.size() == roles.size() ? "a " + String.join(" and a ", roles) + " model"
          : held.size() + " " + String.join(" and ", roles) + " models";
      throw new UsageError("--out " + out + " already holds " + models + " (" + where + (demo ? ": the demo pair that serve, generate and eval use by default" : "")
          + "); give another folder, or pass --force to overwrite " + (one ? "it" : "them")
          + (demo ? " (git checkout ops/demo brings the committed pair back)" : ""));
    }
    List<Path> removed = new ArrayList<>();
    for (Path h : held)
      if (!plans.stream().anyMatch(plan -> h.equals(out.resolve(plan.name())))) {
        deleteFolder(h);
        removed.add(h);
      }
    if (!removed.isEmpty())
      spec.commandLine().getErr().println("tandem train-demo: removed an earlier run's snapshots (--force): "
          + removed.stream().map(Path::toString).collect(java.util.stream.Collectors.joining(", ")));
    spec.commandLine().getErr().println("tandem train-demo: training " + plans.stream().map(TrainDemoCommand::length)
        .collect(java.util.stream.Collectors.joining(", then ")) + ", into " + out
        + (given("--only") ? "" : " (--only small or --only large trains one)"));
    spec.commandLine().getErr().flush();
    Path tokDir = out.resolve("tokenizer");
    tok.write(tokDir);
    DemoModels.writeHeldOut(out.resolve("heldout.jsonl"));
    DemoTrainer trainer = new DemoTrainer(tokDir, System.err);
    List<DemoTrainer.Report> reports = new ArrayList<>();
    // Ctrl-C or SIGTERM: the JVM waits for the current step to end and the model to be saved (an exit
    // during a step in libtorch crashed it, its teardown racing the step), then exits as signalled.
    java.util.concurrent.CountDownLatch finished = new java.util.concurrent.CountDownLatch(1);
    java.io.PrintWriter err = spec.commandLine().getErr();
    Thread onSignal = new Thread(() -> {
      if (finished.getCount() == 0) return;
      trainer.stop();
      err.println("tandem train-demo: stopping after the current step; the model trained so far is saved");
      err.flush();
      try {
        finished.await(STOP_WAIT_SECONDS, java.util.concurrent.TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "train-demo-stop");
    Runtime.getRuntime().addShutdownHook(onSignal);
    try {
      for (DemoTrainer.Plan plan : plans) {
        if (trainer.stopped()) {
          // Said, not left to be found missing (tester54d: a stop in the small phase said nothing of the large model).
          err.println("tandem train-demo: " + plan.name() + " not trained: stopped before it began");
          err.flush();
          continue;
        }
        DemoTrainer.Report r = trainer.train(plan, plan.name().equals("small") ? seed : seed + 1, out.resolve(plan.name()));
        if (r.steps() > 0) reports.add(r);
      }
      // A run stopped before any step saved nothing, and leaves the record of an earlier run as it is.
      if (!reports.isEmpty()) writeRecord(plans, reports, slipRate, misreadRate);
    } finally {
      finished.countDown();
      try {
        Runtime.getRuntime().removeShutdownHook(onSignal);
      } catch (IllegalStateException shuttingDown) {
        // the hook runs now, and returns as the latch is down
      }
    }
    return 0;
  }

  /** The models of {@code name} in {@code out}: {@code out/NAME} and its snapshots {@code out/NAME-stepN}, each with a config.json. */
  private static List<Path> modelsOf(Path out, String name) throws java.io.IOException {
    List<Path> held = new ArrayList<>();
    if (Files.exists(out.resolve(name).resolve("config.json"))) held.add(out.resolve(name));
    if (Files.isDirectory(out))
      try (java.util.stream.Stream<Path> in = Files.list(out)) {
        in.filter(p -> p.getFileName().toString().matches(java.util.regex.Pattern.quote(name) + "-step\\d+")
            && Files.exists(p.resolve("config.json"))).sorted().forEach(held::add);
      }
    return held;
  }

  private static void deleteFolder(Path folder) throws java.io.IOException {
    try (java.util.stream.Stream<Path> files = Files.walk(folder)) {
      for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(f);
    }
  }

  /** The longest a signal waits for the current step and the save (a 12-layer step on one thread takes about 10 s). */
  private static final int STOP_WAIT_SECONDS = 120;

  /** {@code training-ONLY.json}: the settings and what each model's run did. */
  private void writeRecord(List<DemoTrainer.Plan> plans, List<DemoTrainer.Report> reports, double slipRate,
      double misreadRate) throws java.io.IOException {
    ObjectMapper m = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    ObjectNode root = m.createObjectNode();
    root.put("seed", seed);
    root.put("large_traces", largeTraces);
    root.put("slip", slipRate);
    root.put("corrected", corrected);
    root.put("misread", misreadRate);
    root.put("verdict_weight", verdictWeight);
    if (initFrom != null) root.put("init_from", initFrom.toAbsolutePath().normalize().toString());
    ArrayNode runs = root.putArray("runs");
    for (int i = 0; i < reports.size(); i++) {
      DemoTrainer.Report r = reports.get(i);
      runs.addObject().put("model", r.name()).put("layers", plans.get(i).shape().layers()).put("parameters", r.parameters()).put("steps", r.steps())
          .put("minutes", Math.round(r.minutes() * 100) / 100.0).put("first_loss", r.firstLoss())
          .put("final_loss", r.finalLoss()).put("examples", r.examples());
    }
    Files.writeString(out.resolve("training-" + only + ".json"), m.writeValueAsString(root));
  }

  /**
   * The {@code --init-from} model of {@code plan}, checked against the shape trained here, and its
   * weights read, before anything is written or trained: one of another shape failed as its weights were read, after the
   * small model of the run had been trained and written (tester54d). Its layers may divide the
   * plan's (block expansion, as {@code TrainableDecoder.loadWeights} grows a model).
   *
   * @throws IllegalArgumentException naming the folder and each figure that differs (exit 1, as
   *     an {@code --init-from} folder that is not there)
   */
  private void requireInitShape(DemoTrainer.Plan plan) throws java.io.IOException {
    Path config = plan.init().resolve("config.json");
    String give = "; give the folder of an earlier train-demo run, holding small/ and large/ as --out writes them";
    if (!Files.isRegularFile(config))
      throw new IllegalArgumentException("--init-from " + initFrom + ": its " + plan.name() + " model has no config.json" + give);
    com.fasterxml.jackson.databind.JsonNode c = initConfig(config);
    TrainableDecoder.Shape2 shape = plan.shape();
    List<String> differ = new ArrayList<>();
    java.util.Map<String, Integer> wanted = new java.util.LinkedHashMap<>();
    wanted.put("vocab_size", shape.vocabSize());
    wanted.put("hidden_size", shape.hidden());
    wanted.put("intermediate_size", shape.intermediate());
    wanted.put("num_attention_heads", shape.heads());
    wanted.put("num_key_value_heads", shape.kvHeads());
    wanted.forEach((key, value) -> {
      com.fasterxml.jackson.databind.JsonNode v = c.path(key);
      // A whole number: 64.7 is no hidden size, though Jackson converts it to 64 (tester55g).
      if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() != value) differ.add(key + " " + (v.isMissingNode() ? "missing" : v) + ", not " + value);
    });
    com.fasterxml.jackson.databind.JsonNode layers = c.path("num_hidden_layers");
    // A figure that is no layer count is said to be one, not measured against the plan's layers, which were chosen without
    // it (the default 4 against weights of 12: the words pointed away from the model given).
    if (!layers.isIntegralNumber() || !layers.canConvertToInt() || layers.asInt() < 1)
      differ.add("num_hidden_layers " + (layers.isMissingNode() ? "missing" : layers + " is no layer count")
          + " (a whole number from 1, the number of layers its weights hold)");
    else if (shape.layers() % layers.asInt() != 0)
      differ.add("num_hidden_layers " + layers + ", not " + shape.layers() + " or a number that divides it");
    if (!differ.isEmpty())
      throw new IllegalArgumentException("--init-from " + initFrom + ": its " + plan.name() + " model (" + plan.init()
          + ") is not of the shape the " + plan.name() + " model is trained in here: " + String.join("; ", differ) + give);
    // Its weights too, read as training reads them: weights missing or cut short failed after --out was written, or
    // after the small model of the run had been trained (tester55d). First their layers, against the config's, before a
    // model of the config's size is built: a config claiming 120 layers beside weights of 12 grew them until the process
    // was killed (tester55h).
    int weightLayers;
    try (io.tandem.inference.hf.safetensors.SafetensorsReader reader =
        io.tandem.inference.hf.safetensors.SafetensorsReader.open(plan.init())) {
      weightLayers = (int) reader.names().stream().filter(n -> n.matches("model\\.layers\\.\\d+\\.input_layernorm\\.weight")).count();
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("--init-from " + initFrom + ": the weights of its " + plan.name() + " model cannot be"
          + " read: " + e.getMessage() + give);
    }
    if (weightLayers != layers.asInt())
      throw new IllegalArgumentException("--init-from " + initFrom + ": its " + plan.name() + " model's config.json says "
          + io.tandem.protocol.text.Plural.count(layers.asInt(), "layer") + " (num_hidden_layers), its weights hold "
          + weightLayers + give);
    try (TrainableDecoder model = new TrainableDecoder(shape, 0)) {
      model.loadWeights(plan.init());
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("--init-from " + initFrom + ": the weights of its " + plan.name() + " model cannot be"
          + " read: " + e.getMessage() + give);
    }
  }

  /**
   * An {@code --init-from} model's {@code config.json}, read as a checkpoint's is ({@code JsonFault}):
   * one that is no JSON is named with its fault, not in Jackson's words (tester55f).
   */
  private com.fasterxml.jackson.databind.JsonNode initConfig(Path config) throws java.io.IOException {
    try {
      return io.tandem.inference.text.JsonFault.readObject(new ObjectMapper(), config, "{...}");
    } catch (io.tandem.inference.text.JsonFault.NotJson e) {
      throw new IllegalArgumentException("--init-from " + initFrom + ": " + e.getMessage() + "; give the folder of an earlier"
          + " train-demo run, holding small/ and large/ as --out writes them", e);
    }
  }

  /** Whether {@code folder} is the demo folder every command defaults to ({@link DemoModels#dir}). */
  private static boolean isDemoFolder(Path folder) {
    try {
      return Files.isSameFile(folder, DemoModels.dir());
    } catch (java.io.IOException | IllegalStateException e) {
      return false;
    }
  }

  /** {@code --large-layers}, checked against the {@code --init-from} large model's layers, which it defaults to. */
  private int largeLayers() throws java.io.IOException {
    Integer init = null;
    Path config = initFrom == null ? null : initFrom.resolve("large").resolve("config.json");
    if (config != null && Files.isRegularFile(config)) {
      com.fasterxml.jackson.databind.JsonNode layers = initConfig(config).path("num_hidden_layers");
      if (layers.isIntegralNumber() && layers.canConvertToInt() && layers.asInt() > 0) init = layers.asInt();
      if (init != null && init > MAX_LARGE_LAYERS)
        throw new IllegalArgumentException("--init-from " + initFrom + ": its large model's config.json says " + init
            + " layers (num_hidden_layers), more than the " + MAX_LARGE_LAYERS + " a demo model may have; give the folder of an"
            + " earlier train-demo run, holding small/ and large/ as --out writes them");
    }
    if (largeLayers == null) return init != null ? init : LARGE.layers();
    if (largeLayers < 1 || largeLayers > MAX_LARGE_LAYERS)
      throw new UsageError("--large-layers " + largeLayers + ": give 1 to " + MAX_LARGE_LAYERS);
    if (init != null && largeLayers % init != 0)
      throw new UsageError("--large-layers " + largeLayers + ": " + initFrom.resolve("large") + " has " + init
          + " layers; give " + init + " to continue training it, or a multiple of " + init + " to grow it by block expansion");
    return largeLayers;
  }

  private boolean given(String option) {
    return spec.commandLine().getParseResult().hasMatchedOption(option);
  }

  /**
   * The start of the refusal of a number {@code option} was given: {@code OPTION VALUE: }, the value
   * as it was written, and, for one beyond a double ({@code 1e309}, which Java reads as Infinity) or
   * NaN, saying so rather than echoing Java's reading.
   */
  private String refusing(String option, double value) {
    List<String> written = spec.commandLine().getParseResult().matchedOption(option).stringValues();
    return option + " " + written.get(written.size() - 1) + ": " + (Double.isFinite(value) ? "" : "not a finite number; ");
  }

  /** "small for 6 minutes", "large for 500 steps": how long a plan trains. */
  private static String length(DemoTrainer.Plan plan) {
    return plan.name() + " for " + (plan.maxSteps() > 0 ? Plural.count(plan.maxSteps(), "step")
        : java.math.BigDecimal.valueOf(plan.minutes()).stripTrailingZeros().toPlainString()
            + (plan.minutes() == 1 ? " minute" : " minutes"));
  }

  static TrainableDecoder.Shape2 withVocab(TrainableDecoder.Shape2 s, int vocab) {
    return new TrainableDecoder.Shape2(vocab, s.hidden(), s.intermediate(), s.layers(), s.heads(), s.kvHeads(),
        s.maxPositions());
  }
}
