package io.tandem.inference.text.jinja;

import com.hubspot.jinjava.el.ExtendedSyntaxBuilder;
import com.hubspot.jinjava.el.TruthyTypeConverter;
import com.hubspot.jinjava.el.ext.ExtendedParser;
import com.hubspot.jinjava.el.ext.StringConcatOperator;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Properties;
import jinjava.de.odysseus.el.ExpressionFactoryImpl;
import jinjava.de.odysseus.el.misc.NumberOperations;
import jinjava.de.odysseus.el.tree.TreeBuilder;
import jinjava.de.odysseus.el.tree.impl.Builder;
import jinjava.de.odysseus.el.tree.impl.Parser;
import jinjava.de.odysseus.el.tree.impl.Scanner.ScanException;
import jinjava.de.odysseus.el.tree.impl.Scanner.Symbol;
import jinjava.de.odysseus.el.tree.impl.ast.AstBinary;
import jinjava.de.odysseus.el.tree.impl.ast.AstNode;
import jinjava.de.odysseus.el.tree.impl.ast.AstUnary;
import jinjava.javax.el.ExpressionFactory;

/**
 * Jinjava's expression parser with three of Jinja2's rules it lacks.
 *
 * <ul>
 *   <li>A test after a filter: {@code messages|length is divisibleby 2} tests the filtered value, as in Jinja2's
 *       grammar, where filters and tests chain left to right; Jinjava's parser stopped at the {@code is}.
 *   <li>Repetition: {@code 'x' * 3} is {@code 'xxx'} and {@code [a] * 2} is {@code [a, a]}, as Python's {@code *}
 *       on a sequence and an integer; Jinjava's {@code *} multiplies numbers only.
 *   <li>{@code not} below comparisons and tests ({@link #unary}).
 * </ul>
 */
public final class PythonParser extends ExtendedParser {

  /** Jinjava's expression factory (as {@code Jinjava}'s constructor makes it), parsing with this parser. */
  public static ExpressionFactory expressionFactory() {
    Properties config = new Properties();
    config.setProperty(TreeBuilder.class.getName(), SyntaxBuilder.class.getName());
    return new ExpressionFactoryImpl(config, new TruthyTypeConverter());
  }

  /** Makes a {@link PythonParser} for each expression. */
  public static final class SyntaxBuilder extends ExtendedSyntaxBuilder {
    private static final long serialVersionUID = 1L;

    public SyntaxBuilder() {
      super();
    }

    public SyntaxBuilder(Feature... features) {
      super(features);
    }

    @Override
    protected Parser createParser(String expression) {
      return new PythonParser(this, expression);
    }
  }

  private PythonParser(Builder context, String input) {
    super(context, input);
    putExtensionHandler(StringConcatOperator.TOKEN, new ExtensionHandler(ExtensionPoint.ADD) {
      @Override
      public AstNode createAstNode(AstNode... children) {
        return createAstBinary(children[0], children[1], CONCAT);
      }
    });
  }

  /** Jinja2's {@code ~}: both sides as Python's {@code str} writes them ({@code 'x' ~ true} is {@code xTrue}). */
  private static final AstBinary.Operator CONCAT = (bindings, context, left, right) ->
      PyRepr.str(left.eval(bindings, context), String::valueOf) + PyRepr.str(right.eval(bindings, context), String::valueOf);

  @Override
  protected AstNode filter(boolean required) throws ScanException, ParseException {
    AstNode v = super.filter(required);
    while (v != null && "is".equals(getToken().getImage())) {
      boolean negated = "not".equals(lookahead(0).getImage());
      Symbol test = lookahead(negated ? 1 : 0).getSymbol();
      if (test != Symbol.IDENTIFIER && test != Symbol.TRUE && test != Symbol.FALSE && test != Symbol.NULL) break;
      consumeToken(); // is
      if (negated) consumeToken();
      String name = consumeToken().getImage();
      List<AstNode> params = new ArrayList<>(List.of(v, interpreter()));
      AstNode arg = value(); // `divisibleby 2` or `divisibleby(2)`
      if (arg != null) params.add(arg);
      v = createAstMethod(createAstDot(identifier(EXPTEST_PREFIX + name), negated ? "evaluateNegated" : "evaluate", true),
          createAstParameters(params));
    }
    return v;
  }

  /**
   * {@code not} as Jinja2's grammar reads it: below comparisons and tests, above {@code and}, so that {@code not x is
   * defined} is {@code not (x is defined)} and {@code not a == b} is {@code not (a == b)}. Jinjava's, as EL's, negated
   * the operand alone: DeepSeek-R1 distills' {@code {% if not add_generation_prompt is defined %}} set it false, and
   * their prompts lost the assistant's turn and its think tag (tester60d).
   */
  @Override
  protected AstNode unary(boolean required) throws ScanException, ParseException {
    if (getToken().getSymbol() != Symbol.NOT) return super.unary(required);
    consumeToken();
    return createAstUnary(eq(true), AstUnary.NOT);
  }

  @Override
  protected AstBinary createAstBinary(AstNode left, AstNode right, AstBinary.Operator operator) {
    return super.createAstBinary(left, right, operator == AstBinary.MUL ? REPEAT_OR_MUL : operator);
  }

  /** Python's {@code *}: a string or list times an integer repeats it; anything else multiplies as Jinjava does. */
  private static final AstBinary.Operator REPEAT_OR_MUL = (bindings, context, left, right) -> {
    Object a = left.eval(bindings, context);
    Object b = right.eval(bindings, context);
    if (isInteger(b) && (a instanceof CharSequence || a instanceof Collection<?>)) return repeat(a, ((Number) b).intValue());
    if (isInteger(a) && (b instanceof CharSequence || b instanceof Collection<?>)) return repeat(b, ((Number) a).intValue());
    return NumberOperations.mul(bindings, a, b);
  };

  private static boolean isInteger(Object o) {
    return o instanceof Long || o instanceof Integer || o instanceof Short || o instanceof Byte
        || o instanceof java.math.BigInteger;
  }

  private static Object repeat(Object sequence, int times) {
    if (sequence instanceof CharSequence s) return s.toString().repeat(Math.max(0, times));
    List<Object> out = new ArrayList<>();
    for (int k = 0; k < times; k++) out.addAll((Collection<?>) sequence);
    return out;
  }
}
