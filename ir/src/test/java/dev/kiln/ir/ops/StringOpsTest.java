package dev.kiln.ir.ops;

import static dev.kiln.ir.ops.OpHarness.assertTensor;
import static dev.kiln.ir.ops.OpHarness.run;
import static dev.kiln.ir.ops.OpHarness.run1;
import static dev.kiln.ir.ops.OpHarness.shape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.ir.Attr;
import dev.kiln.ir.Attributes;
import dev.kiln.ir.DType;
import dev.kiln.ir.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

/** String ops and the RE2 translation on cases worked out by hand from the spec and Python's str.split. */
class StringOpsTest {
    private static Tensor strings(String... s) {
        return Tensor.wrapStrings(new int[] {s.length}, s);
    }

    @Test
    void splitFollowsPythonStrSplit() {
        // Whitespace runs, leading and trailing whitespace ignored; maxsplit keeps the rest (trailing spaces too).
        assertEquals(List.of("a", "b", "c"), StringOps.split("  a \t b\nc  ", null, -1));
        assertEquals(List.of("a", "b c  "), StringOps.split("  a b c  ", null, 1));
        assertEquals(List.of(), StringOps.split("   ", null, -1));
        // A delimiter keeps empty parts between consecutive ones and at the ends.
        assertEquals(List.of("", "a", "", "b", ""), StringOps.split("-a--b-", "-", -1));
        assertEquals(List.of("a", "b-c"), StringOps.split("a-b-c", "-", 1));
        assertEquals(List.of(""), StringOps.split("", "-", -1));
        // The no-break space is whitespace to Python, not to Character.isWhitespace.
        assertEquals(List.of("a", "b"), StringOps.split("a\u00a0b", null, -1));
    }

    @Test
    void splitPadsToTheMostPartsAndCountsThem() {
        List<Tensor> out = run("StringSplit", Attributes.builder().i("maxsplit", 1).build(), 2,
                strings("a b c", "", "d"));
        assertArrayEquals(new int[] {3, 2}, out.get(0).shape());
        assertArrayEquals(new String[] {"a", "b c", "", "", "d", ""}, out.get(0).strings());
        assertArrayEquals(new long[] {2, 0, 1}, out.get(1).longs());
    }

    @Test
    void normalizerDropsStopwordsIgnoringCaseInTheLocaleThenChangesCase() {
        Attributes a = Attributes.builder().s("case_change_action", "UPPER").s("locale", "tr_TR")
                .set("stopwords", new Attr.Strs(List.of("Bir"))).build();
        // Turkish upper-cases i to İ; "BİR" lower-cases (in Turkish) to the stopword "bir".
        Tensor y = run1("StringNormalizer", a, Tensor.wrapStrings(new int[] {1, 3}, new String[] {"BİR", "iki", "x"}));
        assertArrayEquals(new int[] {1, 2}, y.shape());
        assertArrayEquals(new String[] {"İKİ", "X"}, y.strings());
        Tensor none = run1("StringNormalizer", Attributes.builder().i("is_case_sensitive", 1)
                .set("stopwords", new Attr.Strs(List.of("a"))).build(), strings("a", "a"));
        assertArrayEquals(new String[] {""}, none.strings());
    }

    @Test
    void concatBroadcastsAndRegexMatchesWholeStrings() {
        Tensor z = run1("StringConcat", Attributes.EMPTY, strings("a", "b"),
                Tensor.wrapStrings(new int[0], new String[] {"!"}));
        assertArrayEquals(new String[] {"a!", "b!"}, z.strings());
        Tensor m = run1("RegexFullMatch", Attributes.builder().s("pattern", "[[:alpha:]]+\\d?$").build(),
                strings("abc1", "abc1\n", "ab12", "[b"));
        assertArrayEquals(new boolean[] {true, false, false, false}, m.bools());
    }

    @Test
    void re2PatternsTranslateOrAreRejected() {
        assertEquals("(?<year>\\d+)-[\\[a]\\z", Re2Patterns.toJava("(?P<year>\\d+)-[[a]$"));
        assertEquals("[\\t\\n\\f\\r ][\\p{Alpha}][\\P{Digit}\\&]", Re2Patterns.toJava("\\s[[:alpha:]][[:^digit:]&]"));
        assertEquals("(?m)a$", Re2Patterns.toJava("(?m)a$"));
        for (String bad : new String[] {"(a)\\1", "a(?=b)", "(?>a)", "a*+", "(?U)a", "\\C"}) {
            assertThrows(IllegalArgumentException.class, () -> Re2Patterns.toJava(bad), bad);
        }
        dev.kiln.ir.UnsupportedOpException e = assertThrows(dev.kiln.ir.UnsupportedOpException.class,
                () -> run1("RegexFullMatch", Attributes.builder().s("pattern", "(x)\\1").build(), strings("xx")));
        assertTrue(e.getMessage().contains("backreference"), e.getMessage());
    }

    @Test
    void tfIdfWeighsCountsOfSkippingNgrams() {
        // Pool: unigrams "a", "b" (columns 0, 1), bigram "a b" (column 2); rows "a b a b" and "b x a".
        Attributes.Builder a = Attributes.builder().i("min_gram_length", 1).i("max_gram_length", 2)
                .i("max_skip_count", 1).ints("ngram_counts", 0, 2).ints("ngram_indexes", 0, 1, 2)
                .set("pool_strings", new Attr.Strs(List.of("a", "b", "a", "b")));
        Tensor x = Tensor.wrapStrings(new int[] {2, 4}, new String[] {"a", "b", "a", "b", "b", "x", "a", ""});
        // Row 0: a and b twice each; "a b" at (0,1) and (2,3) with distance 1, none with distance 2 ("a a", "b b").
        // Row 1: b and a once each; no "a b" at distance 1 or 2.
        assertTensor(shape(2, 3), new double[] {2, 2, 2, 1, 1, 0},
                run1("TfIdfVectorizer", a.s("mode", "TF").build(), x), 0);
        assertTensor(shape(2, 3), new double[] {0.5, 2, 3, 0.5, 2, 0},
                run1("TfIdfVectorizer", a.s("mode", "IDF").floats("weights", 0.5f, 2, 3).build(), x), 0);
        assertTensor(shape(2, 3), new double[] {1, 4, 6, 0.5, 2, 0},
                run1("TfIdfVectorizer", a.s("mode", "TFIDF").floats("weights", 0.5f, 2, 3).build(), x), 0);
        Tensor ints = Tensor.ofLongs(DType.INT32, new int[] {3}, 7, 1, 7);
        assertTensor(shape(2), new double[] {2, 0}, run1("TfIdfVectorizer", Attributes.builder()
                .i("min_gram_length", 1).i("max_gram_length", 1).i("max_skip_count", 0).s("mode", "TF")
                .ints("ngram_counts", 0).ints("ngram_indexes", 0, 1).ints("pool_int64s", 7, 8).build(), ints), 0);
    }
}
