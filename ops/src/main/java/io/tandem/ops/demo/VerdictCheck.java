package io.tandem.ops.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tandem.ops.eval.Problem;
import io.tandem.protocol.text.Plural;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Checks that the verification sentences of demo answers are true: the check behind the demo's
 * "every verification sentence is true", run over {@code tandem eval}'s samples rather than read by
 * eye.
 *
 * <p>An answer has a verification when it contains {@link SumTask#VERIFY} or a verdict. It is
 * counted as true when all of these hold:
 * <ul>
 *   <li>the verification adds the question's numbers in reverse order, each sum right;
 *   <li>where the verdict paragraph sets the verification's sum beside the forward pass's (the
 *       last {@code So the sum is T.} before the verification), as {@link SumTask#decisive}
 *       traces do, both are copied right and their digits compared truly (the first demo pair's
 *       large model writes the verdict alone);
 *   <li>it says {@code Yes, it matches.} exactly when the two are equal, and otherwise {@code
 *       Wait, it does not match. The sum is X.} with X the question's true sum.
 * </ul>
 * Run it as {@code java -cp 'ops/target/tandem-ops.jar:ops/target/lib/*'
 * io.tandem.ops.demo.VerdictCheck [--data heldout.jsonl] samples-speculative.jsonl ...}; the
 * problems default to the demo held-out set. It exits 1 if a sample names a problem the data
 * does not have, or a file cannot be read.
 */
public final class VerdictCheck {

  private static final Pattern NUMBERS = Pattern.compile("Compute ((?:\\d+ \\+ )+\\d+)\\.");
  private static final Pattern FORWARD = Pattern.compile("So the sum is (\\d+)\\.");
  private static final Pattern ADDITION = Pattern.compile("(\\d+) \\+ (\\d+) = (\\d+)");
  private static final Pattern VERDICT = Pattern.compile(
      "(?:(\\d+) and (\\d+)(?:\\. |: ((?:\\d is (?:not )?\\d, )*\\d is (?:not )?\\d)\\. ))?(?:("
          + Pattern.quote(SumTask.MATCH) + ")|" + Pattern.quote(SumTask.MISMATCH) + "(\\d+)\\.)");

  /** What is wrong with one answer's verification, or that it has none. */
  public enum Finding {
    /** No verification and no verdict: nothing to check. */
    NONE,
    /** Every sentence of the verification and the verdict is true. */
    TRUE,
    /** The verification adds other numbers than the question's, or adds them wrongly. */
    VERIFICATION_WRONG,
    /**
     * A verification without a verdict paragraph of the task's form after it: none, or one that
     * contradicts itself such as {@code Yes, it does not match.}
     */
    NO_VERDICT,
    /** The verdict is right, but the two sums beside it are not the verification's and the forward pass's. */
    SUMS_COPIED_WRONG,
    /**
     * The verdict is right, but the digits compared are not the two sums', or one is said to be
     * (or not to be) the other wrongly, or the comparison goes past the first difference or stops
     * before the end.
     */
    COMPARISON_WRONG,
    /** It says "matches" when the sums differ: a wrong forward sum let through. */
    FALSE_MATCH,
    /** It says "does not match" when the sums are equal: a right forward sum called wrong. */
    FALSE_MISMATCH,
    /** It says they do not match and names a sum that is not the true one. */
    NAMED_SUM_WRONG
  }

  private VerdictCheck() {}

  /**
   * Checks one answer to {@code question} (the demo task's {@code Compute a + b + ... .}).
   *
   * @throws IllegalArgumentException if {@code question} is not of that form
   */
  public static Finding check(String question, String answer) {
    int[] numbers = numbers(question);
    int verify = answer.indexOf(SumTask.VERIFY);
    if (verify < 0) return VERDICT.matcher(answer).find() ? Finding.NO_VERDICT : Finding.NONE;
    int end = answer.indexOf("\n\n", verify);
    String verification = answer.substring(verify + SumTask.VERIFY.length(), end < 0 ? answer.length() : end);
    Matcher add = ADDITION.matcher(verification);
    int expected = numbers[numbers.length - 1];
    int i = numbers.length - 2;
    boolean right = true;
    while (add.find()) {
      int a = Integer.parseInt(add.group(1));
      int b = Integer.parseInt(add.group(2));
      int c = Integer.parseInt(add.group(3));
      right &= i >= 0 && a == expected && b == numbers[i] && c == a + b;
      expected = c;
      i--;
    }
    if (!right || i != -1) return Finding.VERIFICATION_WRONG;
    int verified = expected;
    if (end < 0) return Finding.NO_VERDICT;
    Matcher v = VERDICT.matcher(answer);
    if (!v.find(end) || v.start() != end + 2) return Finding.NO_VERDICT;
    Matcher f = FORWARD.matcher(answer.substring(0, verify));
    Integer forward = null;
    while (f.find()) forward = Integer.parseInt(f.group(1));
    if (forward == null) return Finding.NO_VERDICT;
    // The verdict is judged against the sums themselves first, whatever the paragraph copied or compared.
    boolean saysMatch = v.group(4) != null;
    if (saysMatch && verified != forward) return Finding.FALSE_MATCH;
    if (!saysMatch && verified == forward) return Finding.FALSE_MISMATCH;
    if (!saysMatch && Integer.parseInt(v.group(5)) != sum(numbers)) return Finding.NAMED_SUM_WRONG;
    if (v.group(1) != null && (Integer.parseInt(v.group(1)) != verified || Integer.parseInt(v.group(2)) != forward))
      return Finding.SUMS_COPIED_WRONG;
    if (v.group(3) != null && !v.group(3).equals(SumTask.comparison(verified, forward))) return Finding.COMPARISON_WRONG;
    return Finding.TRUE;
  }

  /** Counts of each finding over many answers, with the first few of each failure kept as examples. */
  public static final class Tally {
    private final Map<Finding, Integer> counts = new java.util.EnumMap<>(Finding.class);
    private final List<String> examples = new ArrayList<>();

    public void add(String id, Finding finding, String answer) {
      counts.merge(finding, 1, Integer::sum);
      if (finding != Finding.TRUE && finding != Finding.NONE && examples.size() < 5)
        examples.add(id + ": " + finding + "\n" + answer);
    }

    public int count(Finding finding) {
      return counts.getOrDefault(finding, 0);
    }

    /** Answers that contain a verification or a verdict. */
    public int checked() {
      return counts.entrySet().stream().filter(e -> e.getKey() != Finding.NONE).mapToInt(Map.Entry::getValue).sum();
    }

    /** Share of {@link #checked} answers whose sentences are all true; 1 when there are none. */
    public double trueShare() {
      return checked() == 0 ? 1.0 : (double) count(Finding.TRUE) / checked();
    }

    public void print(String title, PrintStream out) {
      int all = counts.values().stream().mapToInt(Integer::intValue).sum();
      out.printf("%s: %s, %d with a verification, %d of them true (%s)%n", title, Plural.count(all, "answer"), checked(),
          count(Finding.TRUE), checked() == 0 ? "none to check" : String.format("%.1f%%", 100 * trueShare()));
      for (Finding f : Finding.values()) {
        if (f != Finding.TRUE && f != Finding.NONE) out.printf("  %-20s %d%n", f, count(f));
      }
      for (String e : examples) out.println("  example " + e.replace("\n", "\n    "));
    }
  }

  public static void main(String[] args) throws IOException {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    List<String> files = new ArrayList<>(List.of(args));
    Path data = null;
    int flag = files.indexOf("--data");
    if (flag >= 0) {
      if (flag + 1 >= files.size()) fail("--data needs a file");
      data = Path.of(files.remove(flag + 1));
      files.remove(flag);
    }
    if (files.isEmpty()) fail("usage: VerdictCheck [--data heldout.jsonl] samples-MODE.jsonl ... (tandem eval's samples)");
    try {
      run(files, data, out);
    } catch (IOException | IllegalStateException | IllegalArgumentException e) {
      String what = e instanceof java.nio.file.NoSuchFileException n ? "no such file: " + n.getFile()
          : e instanceof com.fasterxml.jackson.core.JsonProcessingException j ? "not tandem eval's samples (JSON lines): "
              + j.getOriginalMessage()
          : e.getMessage();
      fail(what + " (give samples-MODE.jsonl files that tandem eval wrote)");
    }
  }

  private static void run(List<String> files, Path data, PrintStream out) throws IOException {
    List<Problem> problems = Problem.readJsonl(data != null ? data : DemoModels.dir().resolve("heldout.jsonl"));
    Map<String, String> questions = new HashMap<>();
    for (Problem p : problems) questions.put(p.id(), p.problem());
    ObjectMapper json = new ObjectMapper();
    for (String file : files) {
      if (!Files.isRegularFile(Path.of(file))) throw new IllegalArgumentException(file + ": no such file");
      Tally tally = new Tally();
      int lineNo = 0;
      for (String line : Files.readAllLines(Path.of(file))) {
        lineNo++;
        if (line.isBlank()) continue;
        JsonNode s = json.readTree(line);
        String id = s.path("unique_id").asText();
        String question = questions.get(id);
        if (question == null) fail(file + " line " + lineNo + ": problem '" + id + "' is not in the data; give --data");
        tally.add(id, check(question, s.path("text").asText()), s.path("text").asText());
      }
      tally.print(file, out);
    }
  }

  private static void fail(String message) {
    System.err.println("VerdictCheck: " + message);
    System.exit(1);
  }

  private static int[] numbers(String question) {
    Matcher m = NUMBERS.matcher(question);
    if (!m.find()) throw new IllegalArgumentException("not a demo sums question (Compute a + b + ... .): " + question);
    String[] parts = m.group(1).split(" \\+ ");
    int[] n = new int[parts.length];
    for (int i = 0; i < parts.length; i++) n[i] = Integer.parseInt(parts[i]);
    return n;
  }

  private static int sum(int[] numbers) {
    int s = 0;
    for (int n : numbers) s += n;
    return s;
  }
}
