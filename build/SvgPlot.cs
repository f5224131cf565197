using System.Globalization;
using System.Security;
using System.Text;

namespace Percy.Build;

/// <summary>A point of a curve: the median, and the min and max of its samples when there are several.</summary>
internal sealed record PlotPoint(double X, double Y, double? Min = null, double? Max = null);

/// <summary>One curve of a plot, with its legend label.</summary>
internal sealed record PlotSeries(string Label, IReadOnlyList<PlotPoint> Points);

/// <summary>
/// A line chart as a standalone SVG file (the benchmark's plots; no plotting dependency):
/// each series a coloured polyline with markers and min–max bars, x ticks at the data's x
/// values, linear or logarithmic axes, a legend and a caption line.
/// </summary>
internal sealed record SvgPlot(string Title, string XLabel, string YLabel, IReadOnlyList<PlotSeries> Series, bool LogX = false, bool LogY = false, string? Caption = null)
{
    private const int Width = 760, Height = 460;
    private const int Left = 90, Right = 20, Top = 50, Bottom = 80;
    private const int MarkerRadius = 4, BarCap = 5, TickLength = 5;
    private const double LinearHeadroom = 1.08;

    // Distinguishable in colour and in grey (Okabe–Ito).
    private static readonly string[] s_colours = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"];

    public string ToSvg()
    {
        PlotPoint[] points = [.. Series.SelectMany(s => s.Points)];
        if (points.Length == 0)
        {
            throw new InvalidOperationException($"plot '{Title}' has no points");
        }

        double[] xs = [.. points.Select(p => p.X).Distinct().Order()];
        double yLow = points.Min(p => p.Min ?? p.Y), yHigh = points.Max(p => p.Max ?? p.Y);
        (double yFrom, double yTo, double[] yTicks) = LogY ? LogAxis(yLow, yHigh) : LinearAxis(Math.Min(0, yLow), yHigh * LinearHeadroom);
        double xFrom = Scale(xs[0], LogX), xTo = Scale(xs[^1], LogX);
        if (xTo == xFrom)
        {
            xTo = xFrom + 1;
        }

        double plotWidth = Width - Left - Right, plotHeight = Height - Top - Bottom;
        double X(double x) => Left + (Scale(x, LogX) - xFrom) / (xTo - xFrom) * plotWidth;
        double Y(double y) => Top + plotHeight - (Scale(y, LogY) - Scale(yFrom, LogY)) / (Scale(yTo, LogY) - Scale(yFrom, LogY)) * plotHeight;

        var svg = new StringBuilder();
        svg.AppendLine(Invariant($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"12\">"));
        svg.AppendLine(Invariant($"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>"));
        svg.AppendLine(Invariant($"<text x=\"{Width / 2}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">{Escape(Title)}</text>"));

        foreach (double tick in yTicks)
        {
            double y = Y(tick);
            svg.AppendLine(Invariant($"<line x1=\"{Left}\" y1=\"{y:0.#}\" x2=\"{Width - Right}\" y2=\"{y:0.#}\" stroke=\"#e4e4e4\"/>"));
            svg.AppendLine(Invariant($"<text x=\"{Left - TickLength - 3}\" y=\"{y + 4:0.#}\" text-anchor=\"end\">{Escape(FormatNumber(tick))}</text>"));
        }

        foreach (double tick in xs)
        {
            double x = X(tick);
            svg.AppendLine(Invariant($"<line x1=\"{x:0.#}\" y1=\"{Top + plotHeight}\" x2=\"{x:0.#}\" y2=\"{Top + plotHeight + TickLength}\" stroke=\"black\"/>"));
            svg.AppendLine(Invariant($"<text x=\"{x:0.#}\" y=\"{Top + plotHeight + 20}\" text-anchor=\"middle\">{Escape(FormatNumber(tick))}</text>"));
        }

        svg.AppendLine(Invariant($"<rect x=\"{Left}\" y=\"{Top}\" width=\"{plotWidth}\" height=\"{plotHeight}\" fill=\"none\" stroke=\"black\"/>"));
        svg.AppendLine(Invariant($"<text x=\"{Left + plotWidth / 2}\" y=\"{Top + plotHeight + 42}\" text-anchor=\"middle\">{Escape(XLabel)}{(LogX ? " (log scale)" : string.Empty)}</text>"));
        svg.AppendLine(Invariant($"<text transform=\"translate(20 {Top + plotHeight / 2}) rotate(-90)\" text-anchor=\"middle\">{Escape(YLabel)}{(LogY ? " (log scale)" : string.Empty)}</text>"));
        if (Caption is not null)
        {
            svg.AppendLine(Invariant($"<text x=\"{Left}\" y=\"{Height - 12}\" font-size=\"11\" fill=\"#555\">{Escape(Caption)}</text>"));
        }

        for (int i = 0; i < Series.Count; i++)
        {
            string colour = s_colours[i % s_colours.Length];
            PlotPoint[] curve = [.. Series[i].Points.OrderBy(p => p.X)];
            string path = string.Join(' ', curve.Select(p => Invariant($"{X(p.X):0.#},{Y(p.Y):0.#}")));
            svg.AppendLine(Invariant($"<polyline points=\"{path}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>"));
            foreach (PlotPoint p in curve)
            {
                if (p.Min is double min && p.Max is double max && max > min)
                {
                    double x = X(p.X);
                    svg.AppendLine(Invariant($"<path d=\"M{x:0.#},{Y(min):0.#}V{Y(max):0.#}M{x - BarCap:0.#},{Y(min):0.#}h{2 * BarCap}M{x - BarCap:0.#},{Y(max):0.#}h{2 * BarCap}\" stroke=\"{colour}\" fill=\"none\"/>"));
                }

                svg.AppendLine(Invariant($"<circle cx=\"{X(p.X):0.#}\" cy=\"{Y(p.Y):0.#}\" r=\"{MarkerRadius}\" fill=\"{colour}\"><title>{Escape($"{Series[i].Label}: {FormatNumber(p.X)} → {FormatNumber(p.Y)}")}</title></circle>"));
            }

            double legendY = Top + 16 + i * 18;
            svg.AppendLine(Invariant($"<line x1=\"{Left + 12}\" y1=\"{legendY - 4}\" x2=\"{Left + 36}\" y2=\"{legendY - 4}\" stroke=\"{colour}\" stroke-width=\"2\"/>"));
            svg.AppendLine(Invariant($"<text x=\"{Left + 42}\" y=\"{legendY}\">{Escape(Series[i].Label)}</text>"));
        }

        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    private static double Scale(double value, bool log) => log ? Math.Log10(value) : value;

    // Round steps of 1, 2 or 5 times a power of ten, about five of them.
    private static (double From, double To, double[] Ticks) LinearAxis(double low, double high)
    {
        const int WantedTicks = 5;
        if (high <= low)
        {
            high = low + 1;
        }

        double rough = (high - low) / WantedTicks;
        double magnitude = Math.Pow(10, Math.Floor(Math.Log10(rough)));
        double step = new[] { 1.0, 2.0, 5.0, 10.0 }.Select(m => m * magnitude).First(s => s >= rough);
        double from = Math.Floor(low / step) * step, to = Math.Ceiling(high / step) * step;
        var ticks = new List<double>();
        for (double t = from; t <= to + step / 2; t += step)
        {
            ticks.Add(Math.Round(t, 12));
        }

        return (from, to, [.. ticks]);
    }

    // Whole decades, with 2 and 5 between them when the data spans fewer than three.
    private static (double From, double To, double[] Ticks) LogAxis(double low, double high)
    {
        const int FewDecades = 3;
        double from = Math.Pow(10, Math.Floor(Math.Log10(low))), to = Math.Pow(10, Math.Ceiling(Math.Log10(high)));
        if (to <= from)
        {
            to = from * 10;
        }

        bool fine = Math.Log10(to / from) < FewDecades;
        var ticks = new List<double>();
        for (double decade = from; decade <= to * 1.0001; decade *= 10)
        {
            ticks.Add(decade);
            if (fine && decade < to)
            {
                ticks.AddRange([decade * 2, decade * 5]);
            }
        }

        return (from, to, [.. ticks]);
    }

    /// <summary>1, 2.5, 4096, 10k, 1M: short labels for ticks.</summary>
    public static string FormatNumber(double value)
    {
        const double Thousand = 1_000, Million = 1_000_000;
        return Math.Abs(value) switch
        {
            >= Million when value % Million == 0 => Invariant($"{value / Million:0.##}M"),
            >= Thousand when value % Thousand == 0 => Invariant($"{value / Thousand:0.##}k"),
            >= 100 => Invariant($"{value:0}"),
            _ => Invariant($"{value:0.###}"),
        };
    }

    private static string Escape(string text) => SecurityElement.Escape(text);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
