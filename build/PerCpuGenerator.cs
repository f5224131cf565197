using Percy.Kernel.Modules;
using System.Globalization;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Percy.Build;

/// <summary>One per-CPU variable: where it is declared and where it sits in .data..percpu.</summary>
internal sealed record PerCpuVariable(
    string DeclaringType,       // Percy.Kernel.Percpu.PerCpuExamples
    string Name,                // ProbeCounter
    string Symbol,              // per_cpu__Percy_Kernel_Percpu_PerCpuExamples__ProbeCounter
    string ValueType,           // global::Percy.Kernel.Percpu.Int4200, long, ...
    ulong Offset,
    ulong Size,
    ulong Align,
    byte[]? Initial,
    string Location,            // kernel/percpu/PerCpuExamples.cs:12
    PerCpuDeclaration Declaration,
    bool Exported = false);     // [ExportPerCpu] (modules only)

/// <summary>A module's <c>[DeclarePerCpu("per_cpu__...")]</c>: a per-CPU variable defined by the kernel or another module.</summary>
internal sealed record PerCpuImport(
    string DeclaringType,
    string Name,
    string Symbol,
    string ValueType,
    string Location,
    PerCpuDeclaration Declaration);

/// <summary>The kernel's per-CPU section, or a module's (whose offsets the loader decides).</summary>
internal enum PerCpuMode
{
    Kernel,
    Module,
}

/// <summary>What the generated C# needs to complete a declaration: its modifiers and enclosing types.</summary>
internal sealed record PerCpuDeclaration(string Modifiers, string Accessibility, string? Namespace, IReadOnlyList<string> TypeHeaders);

/// <summary>The static per-CPU section as the generator laid it out, and (modules) the per-CPU variables declared elsewhere.</summary>
internal sealed record PerCpuSection(IReadOnlyList<PerCpuVariable> Variables, ulong Size, ulong Align, IReadOnlyList<PerCpuImport> Imports)
{
    public bool IsEmpty => Variables.Count == 0 && Imports.Count == 0;
}

/// <summary>
/// Percy's DEFINE_PER_CPU, build side. Reads every <c>[DefinePerCpu]</c> property of the
/// kernel's C# with Roslyn and generates, before the kernel is compiled, the C# bodies and
/// offsets (kernel/percpu/obj/PerCpu.g.cs, picked up by the kernel project like any source
/// file there) and the NASM file of the .data..percpu section (iso/out/obj/percpu/percpu.asm).
/// The generated C# offsets and the section come from one layout computed here; after the
/// link, <see cref="PerCpuCheck"/> proves the ELF's symbols agree. See docs/percpu.md.
/// In module mode (<see cref="ModulesBuild"/>) the same declarations in a module's C# get a
/// section of the module's own, whose offset only the loader knows: the accessors add a
/// base the module reads once at init (docs/modules.md, "Per-CPU variables").
/// </summary>
internal static class PerCpuGenerator
{
    public const string AttributeName = "Percy.Kernel.Percpu.DefinePerCpuAttribute";
    public const string DeclareAttributeName = "Percy.Module.DeclarePerCpuAttribute";
    public const string ExportAttributeName = "Percy.Module.ExportPerCpuAttribute";
    public const string SymbolPrefix = "per_cpu__";
    public const string SectionName = Elf.PerCpuSectionName;

    // Module mode: the generated class holding the module's per-CPU bases, and the asm
    // routine that returns the table of load-time offsets it reads them from.
    public const string ModuleClass = "global::Percy.Module.PerCpuModule";
    public const string ModuleOffsetsSymbol = "percy_module_percpu_offsets";

    // Both modes parse C# alike (the kernel's csproj says LangVersion latest).
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Preview, preprocessorSymbols: ["TRACE", "RELEASE"]);

    // Where the kernel's layout helpers live (kernel/percpu/PerCpuLayout.cs).
    private const string LayoutClass = "global::Percy.Kernel.Percpu.PerCpuLayout";

    // The section's end is padded to this, so the reserved and dynamic parts start aligned.
    private const ulong SectionEndAlign = 8;

    public static string GeneratedSource => Path.Combine(Paths.Kernel, "percpu", "obj", "PerCpu.g.cs");

    public static string GeneratedAssembly => Path.Combine(Paths.Objects, "percpu", "percpu.asm");

    /// <summary>Reads the declarations, writes both generated files (only when they change), returns the layout.</summary>
    public static PerCpuSection Generate()
    {
        PerCpuSection section = Analyze(ReadKernelSources());
        WriteIfChanged(GeneratedSource, EmitCSharp(section));
        WriteIfChanged(GeneratedAssembly, EmitAssembly(section));
        return section;
    }

    // Every C# file under kernel/ except build output (any bin/ or obj/ directory, which is
    // also where the generated file lives).
    private static List<(string Path, string Text)> ReadKernelSources()
    {
        var sources = new List<(string, string)>();
        foreach (string file in Directory.EnumerateFiles(Paths.Kernel, "*.cs", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(Paths.Root, file);
            string[] parts = relative.Split(Path.DirectorySeparatorChar);
            if (parts.Any(p => p is "bin" or "obj"))
            {
                continue;
            }

            sources.Add((relative, File.ReadAllText(file)));
        }

        sources.Sort((a, b) => StringComparer.Ordinal.Compare(a.Item1, b.Item1));
        return sources;
    }

    internal static PerCpuSection Analyze(IReadOnlyList<(string Path, string Text)> sources)
    {
        var trees = sources.Select(s => CSharpSyntaxTree.ParseText(s.Text, ParseOptions, s.Path)).ToList();
        // Percy is its own corlib (kernel/runtime/), so the kernel's sources are the whole world.
        var compilation = CSharpCompilation.Create(
            "percy",
            trees,
            references: [],
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true));
        return Analyze(compilation, trees, PerCpuMode.Kernel, "kernel");
    }

    /// <summary>
    /// Lays out the [DefinePerCpu] declarations of <paramref name="trees"/> (part of
    /// <paramref name="compilation"/>); in module mode also collects [DeclarePerCpu] imports
    /// and [ExportPerCpu] marks. Errors name the file and line and stop the build.
    /// </summary>
    internal static PerCpuSection Analyze(CSharpCompilation compilation, IEnumerable<SyntaxTree> trees, PerCpuMode mode, string context)
    {
        var errors = new List<string>();
        var found = new List<(IPropertySymbol Property, PropertyDeclarationSyntax Syntax, AttributeData Attribute, string Location)>();
        var imports = new List<PerCpuImport>();
        foreach (SyntaxTree tree in trees)
        {
            string text = tree.GetText().ToString();
            if (!text.Contains("DefinePerCpu", StringComparison.Ordinal) && !text.Contains("DeclarePerCpu", StringComparison.Ordinal))
            {
                continue;
            }

            SemanticModel model = compilation.GetSemanticModel(tree);
            foreach (PropertyDeclarationSyntax syntax in tree.GetRoot().DescendantNodes().OfType<PropertyDeclarationSyntax>())
            {
                if (model.GetDeclaredSymbol(syntax) is not IPropertySymbol property)
                {
                    continue;
                }

                int line = syntax.GetLocation().GetLineSpan().StartLinePosition.Line + 1;
                string location = $"{tree.FilePath}:{line}";
                AttributeData? attribute = FindAttribute(property, AttributeName);
                AttributeData? declare = FindAttribute(property, DeclareAttributeName);
                bool export = FindAttribute(property, ExportAttributeName) is not null;
                if (mode == PerCpuMode.Kernel && (declare is not null || export))
                {
                    errors.Add($"{location}: {property.Name}: [DeclarePerCpu] and [ExportPerCpu] are for modules; the kernel exports per-CPU variables in kernel/modules/KernelExportTable.cs");
                }
                else if (attribute is not null && declare is not null)
                {
                    errors.Add($"{location}: {property.Name}: a per-CPU variable is either defined here ([DefinePerCpu]) or declared from elsewhere ([DeclarePerCpu]), not both");
                }
                else if (declare is not null)
                {
                    AddImport(property, syntax, declare, export, location, imports, errors);
                }
                else if (attribute is not null)
                {
                    found.Add((property, syntax, attribute, location));
                }
                else if (export)
                {
                    errors.Add($"{location}: {property.Name}: [ExportPerCpu] needs [DefinePerCpu] on the same property");
                }
            }
        }

        var variables = new List<PerCpuVariable>();
        ulong offset = 0;
        ulong sectionAlign = SectionEndAlign;
        foreach (var (property, syntax, attribute, location) in found)
        {
            string? problem = CheckDeclaration(property, syntax);
            if (problem is not null)
            {
                errors.Add($"{location}: [DefinePerCpu] {property.Name}: {problem}");
                continue;
            }

            var layoutErrors = new List<string>();
            (ulong size, ulong align) = PerCpuTypeLayout.Of(property.Type, layoutErrors);
            if (layoutErrors.Count > 0)
            {
                errors.AddRange(layoutErrors.Select(e => $"{location}: [DefinePerCpu] {property.Name}: {e}"));
                continue;
            }

            byte[]? initial = null;
            foreach (var (key, value) in attribute.NamedArguments)
            {
                if (key == "Align")
                {
                    int requested = value.Value is int a ? a : 0;
                    if (requested <= 0 || (requested & (requested - 1)) != 0)
                    {
                        errors.Add($"{location}: [DefinePerCpu] {property.Name}: Align = {value.Value} is not a power of two");
                        continue;
                    }

                    align = Math.Max(align, (ulong)requested);
                }
                else if (key == "Initial")
                {
                    initial = InitialBytes(property.Type, value, size, out string? error);
                    if (error is not null)
                    {
                        errors.Add($"{location}: [DefinePerCpu] {property.Name}: {error}");
                    }
                }
                else if (key == "InitialFrom")
                {
                    initial = PerCpuInitializer.Evaluate(compilation, property, value.Value as string, size, out string? error);
                    if (error is not null)
                    {
                        errors.Add($"{location}: [DefinePerCpu] {property.Name}: {error}");
                    }
                }
            }

            offset = AlignUp(offset, align);
            sectionAlign = Math.Max(sectionAlign, align);
            string declaringType = property.ContainingType.ToDisplayString();
            variables.Add(new PerCpuVariable(
                declaringType,
                property.Name,
                SymbolPrefix + declaringType.Replace('.', '_') + "__" + property.Name,
                property.Type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat),
                offset,
                size,
                align,
                initial,
                location,
                DeclarationOf(property, syntax),
                FindAttribute(property, ExportAttributeName) is not null));
            offset += size;
        }

        var symbols = variables.Select(v => (v.Symbol, v.Location)).Concat(imports.Select(i => (i.Symbol, i.Location)));
        foreach (var duplicate in symbols.GroupBy(v => v.Symbol).Where(g => g.Count() > 1))
        {
            errors.Add($"per-CPU symbol {duplicate.Key} is declared twice: {string.Join(", ", duplicate.Select(v => v.Location))}");
        }

        if (errors.Count > 0)
        {
            throw new BuildException($"{context}: per-CPU declarations: " + string.Join("\n", errors));
        }

        return new PerCpuSection(variables, AlignUp(offset, SectionEndAlign), sectionAlign, imports);
    }

    private static AttributeData? FindAttribute(IPropertySymbol property, string name)
        => property.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == name);

    // [DeclarePerCpu("per_cpu__...")]: the same property rules, and a symbol of the per-CPU kind.
    private static void AddImport(IPropertySymbol property, PropertyDeclarationSyntax syntax, AttributeData declare, bool export, string location, List<PerCpuImport> imports, List<string> errors)
    {
        string? problem = CheckDeclaration(property, syntax);
        string? symbol = declare.ConstructorArguments.FirstOrDefault().Value as string;
        if (problem is null && (symbol is null || !symbol.StartsWith(SymbolPrefix, StringComparison.Ordinal) || symbol.Length == SymbolPrefix.Length))
        {
            problem = $"the symbol must name a per-CPU variable: \"{SymbolPrefix}...\" (got \"{symbol}\")";
        }

        if (problem is null && export)
        {
            problem = "[ExportPerCpu] exports a variable this module defines, not one it declares";
        }

        if (problem is not null)
        {
            errors.Add($"{location}: [DeclarePerCpu] {property.Name}: {problem}");
            return;
        }

        imports.Add(new PerCpuImport(
            property.ContainingType.ToDisplayString(),
            property.Name,
            symbol!,
            property.Type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat),
            location,
            DeclarationOf(property, syntax)));
    }

    private static PerCpuDeclaration DeclarationOf(IPropertySymbol property, PropertyDeclarationSyntax syntax)
    {
        var headers = new List<string>();
        for (INamedTypeSymbol? t = property.ContainingType; t is not null; t = t.ContainingType)
        {
            string keyword = (t.TypeKind, t.IsRecord) switch
            {
                (TypeKind.Struct, true) => "record struct",
                (TypeKind.Struct, false) => "struct",
                (TypeKind.Interface, _) => "interface",
                (_, true) => "record",
                _ => "class",
            };
            headers.Insert(0, $"unsafe partial {keyword} {t.Name}");
        }

        INamespaceSymbol ns = property.ContainingType.ContainingNamespace;
        string accessibility = SyntaxFacts.GetText(property.DeclaredAccessibility);
        return new PerCpuDeclaration(
            syntax.Modifiers.ToString(),
            accessibility.Length > 0 ? accessibility : "private",
            ns.IsGlobalNamespace ? null : ns.ToDisplayString(),
            headers);
    }

    private static string? CheckDeclaration(IPropertySymbol property, PropertyDeclarationSyntax syntax)
    {
        if (!property.IsStatic)
        {
            return "must be static";
        }

        if (!property.IsPartialDefinition || syntax.ExpressionBody is not null)
        {
            return "must be a partial property without a body (the build writes it): `static partial ref T Name { get; }`";
        }

        if (property.PartialImplementationPart is not null)
        {
            return "has a hand-written implementing declaration; the build generates it";
        }

        if (property.RefKind != RefKind.Ref)
        {
            return "must return by `ref` (this CPU's copy is a variable, not a value)";
        }

        if (property.SetMethod is not null || property.GetMethod is null)
        {
            return "must have only a getter: `{ get; }`";
        }

        if (!property.Type.IsUnmanagedType || property.Type.IsReferenceType)
        {
            return $"type {property.Type.ToDisplayString()} is not an unmanaged value type";
        }

        for (INamedTypeSymbol? t = property.ContainingType; t is not null; t = t.ContainingType)
        {
            if (t.IsGenericType)
            {
                return $"declaring type {t.ToDisplayString()} is generic";
            }

            bool partial = t.DeclaringSyntaxReferences
                .Select(r => r.GetSyntax())
                .OfType<TypeDeclarationSyntax>()
                .Any(d => d.Modifiers.Any(m => m.IsKind(SyntaxKind.PartialKeyword)));
            if (!partial)
            {
                return $"declaring type {t.ToDisplayString()} must be partial";
            }
        }

        return null;
    }

    // The constant of [DefinePerCpu(Initial = ...)] as the variable's bytes (little-endian).
    private static byte[]? InitialBytes(ITypeSymbol type, TypedConstant constant, ulong size, out string? error)
    {
        if (constant.Value is null || constant.Kind != TypedConstantKind.Primitive && constant.Kind != TypedConstantKind.Enum)
        {
            error = "Initial must be a constant";
            return null;
        }

        return ConstantBytes(type, constant.Value, size, out error);
    }

    internal static byte[]? ConstantBytes(ITypeSymbol type, object value, ulong size, out string? error)
    {
        error = null;
        ITypeSymbol target = type is INamedTypeSymbol { TypeKind: TypeKind.Enum, EnumUnderlyingType: { } underlying } ? underlying : type;

        try
        {
            byte[] bytes = target.SpecialType switch
            {
                SpecialType.System_Boolean => value is bool b ? [(byte)(b ? 1 : 0)] : throw new InvalidCastException(),
                SpecialType.System_Byte => [Convert.ToByte(value, CultureInfo.InvariantCulture)],
                SpecialType.System_SByte => [unchecked((byte)Convert.ToSByte(value, CultureInfo.InvariantCulture))],
                SpecialType.System_Int16 => BitConverter.GetBytes(Convert.ToInt16(value, CultureInfo.InvariantCulture)),
                SpecialType.System_UInt16 => BitConverter.GetBytes(Convert.ToUInt16(value, CultureInfo.InvariantCulture)),
                SpecialType.System_Char => BitConverter.GetBytes(Convert.ToChar(value, CultureInfo.InvariantCulture)),
                SpecialType.System_Int32 => BitConverter.GetBytes(Convert.ToInt32(value, CultureInfo.InvariantCulture)),
                SpecialType.System_UInt32 => BitConverter.GetBytes(Convert.ToUInt32(value, CultureInfo.InvariantCulture)),
                SpecialType.System_Int64 => BitConverter.GetBytes(Convert.ToInt64(value, CultureInfo.InvariantCulture)),
                SpecialType.System_UInt64 => BitConverter.GetBytes(Convert.ToUInt64(value, CultureInfo.InvariantCulture)),
                SpecialType.System_IntPtr => BitConverter.GetBytes(Convert.ToInt64(value, CultureInfo.InvariantCulture)),
                SpecialType.System_UIntPtr => BitConverter.GetBytes(Convert.ToUInt64(value, CultureInfo.InvariantCulture)),
                SpecialType.System_Single => BitConverter.GetBytes(Convert.ToSingle(value, CultureInfo.InvariantCulture)),
                SpecialType.System_Double => BitConverter.GetBytes(Convert.ToDouble(value, CultureInfo.InvariantCulture)),
                _ => throw new NotSupportedException(),
            };
            if ((ulong)bytes.Length != size)
            {
                error = $"Initial does not fill the {size}-byte variable";
                return null;
            }

            return bytes;
        }
        catch (NotSupportedException)
        {
            error = $"Initial is only for primitive and enum variables, not {type.ToDisplayString()}; give a struct its initial value with InitialFrom";
        }
        catch (Exception e) when (e is OverflowException or InvalidCastException or FormatException)
        {
            error = $"Initial = {value} does not fit {type.ToDisplayString()}";
        }

        return null;
    }

    private static string EmitCSharp(PerCpuSection section)
    {
        var s = new StringBuilder();
        s.AppendLine("// <auto-generated/> by build/PerCpuGenerator.cs from the kernel's [DefinePerCpu] declarations.");
        s.AppendLine("// Do not edit: ./build.sh kernel rewrites it. Offsets equal the per_cpu__* symbols in percy.elf.");
        s.AppendLine("#pragma warning disable");
        s.AppendLine();
        s.AppendLine("namespace Percy.Kernel.Percpu");
        s.AppendLine("{");
        s.AppendLine("    /// <summary>The static per-CPU section: __per_cpu_end - __per_cpu_start and its alignment.</summary>");
        s.AppendLine("    internal static unsafe class PerCpuStatic");
        s.AppendLine("    {");
        EmitSectionConstants(s, section);
        s.AppendLine("    }");
        s.AppendLine("}");

        foreach (var group in section.Variables.GroupBy(v => v.DeclaringType))
        {
            s.AppendLine();
            EmitDeclaringType(s, group.First().Declaration, group.Select(v => KernelMembers(v)).ToList());
        }

        return s.ToString();
    }

    /// <summary>
    /// A module's generated C#: the class that holds where its per-CPU data is
    /// (<c>Percy.Module.PerCpuModule</c>) and the accessors of its [DefinePerCpu] and
    /// [DeclarePerCpu] properties. Empty when the module has neither.
    /// </summary>
    public static string EmitModuleCSharp(PerCpuSection section, string module)
    {
        if (section.IsEmpty)
        {
            return string.Empty;
        }

        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture, $"// <auto-generated/> by build/PerCpuGenerator.cs from the per-CPU declarations of {module}.");
        s.AppendLine("// Do not edit: ./build.sh modules rewrites it. See docs/modules.md, \"Per-CPU variables\".");
        s.AppendLine("#pragma warning disable");
        s.AppendLine();
        s.AppendLine("namespace Percy.Module");
        s.AppendLine("{");
        s.AppendLine("    /// <summary>Where this module's per-CPU data is: known at load time, read once by Bind.</summary>");
        s.AppendLine("    internal static unsafe class PerCpuModule");
        s.AppendLine("    {");
        EmitSectionConstants(s, section);
        s.AppendLine();
        s.AppendLine("        // LocalWindowBase + the offset the loader gave this module's .data..percpu.");
        s.AppendLine("        internal static ulong SectionLocal;");
        for (int i = 0; i < section.Imports.Count; i++)
        {
            s.AppendLine(CultureInfo.InvariantCulture, $"        // LocalWindowBase + the per-CPU offset of {section.Imports[i].Symbol}.");
            s.AppendLine(CultureInfo.InvariantCulture, $"        internal static ulong Import{i}Local;");
        }

        s.AppendLine();
        s.AppendLine("        // The table of per-CPU offsets in the module's asm part, relocated by the loader:");
        s.AppendLine("        // [0] this module's section, then one per [DeclarePerCpu], in declaration order.");
        s.AppendLine("        [global::System.Runtime.RuntimeImport(\"*\", \"" + ModuleOffsetsSymbol + "\")]");
        s.AppendLine("        [global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.InternalCall)]");
        s.AppendLine("        static extern ulong* Offsets();");
        s.AppendLine();
        s.AppendLine("        // Run by the init entry point before any of the module's code.");
        s.AppendLine("        internal static void Bind()");
        s.AppendLine("        {");
        s.AppendLine("            ulong* offsets = Offsets();");
        s.AppendLine(CultureInfo.InvariantCulture, $"            SectionLocal = {LayoutClass}.LocalBase + offsets[0];");
        for (int i = 0; i < section.Imports.Count; i++)
        {
            s.AppendLine(CultureInfo.InvariantCulture, $"            Import{i}Local = {LayoutClass}.LocalBase + offsets[{i + 1}];");
        }

        s.AppendLine("        }");
        s.AppendLine("    }");
        s.AppendLine("}");

        var members = section.Variables.Select(v => (v.DeclaringType, v.Declaration, Lines: ModuleMembers(v)))
            .Concat(section.Imports.Select((import, i) => (import.DeclaringType, import.Declaration, Lines: ImportMembers(import, i))));
        foreach (var group in members.GroupBy(m => m.DeclaringType))
        {
            s.AppendLine();
            EmitDeclaringType(s, group.First().Declaration, group.Select(m => m.Lines).ToList());
        }

        return s.ToString();
    }

    private static void EmitSectionConstants(StringBuilder s, PerCpuSection section)
    {
        s.AppendLine(CultureInfo.InvariantCulture, $"        public const ulong Size = 0x{section.Size:x};");
        s.AppendLine(CultureInfo.InvariantCulture, $"        public const ulong Align = {section.Align};");
        s.AppendLine(CultureInfo.InvariantCulture, $"        public const int VariableCount = {section.Variables.Count};");
        s.AppendLine();
        s.AppendLine("        /// <summary>Null when the compiler's sizeof of every variable's type is the size the build laid out; else the symbol that differs.</summary>");
        s.AppendLine("        public static string VerifyTypeSizes()");
        s.AppendLine("        {");
        foreach (PerCpuVariable v in section.Variables)
        {
            s.AppendLine(CultureInfo.InvariantCulture, $"            if ((ulong)sizeof({v.ValueType}) != {v.Size}) return \"{v.Symbol}\";");
        }

        s.AppendLine("            return null;");
        s.AppendLine("        }");
    }

    // The kernel: the offset is a constant, this CPU's copy a constant address.
    private static List<string> KernelMembers(PerCpuVariable v)
    {
        string access = v.Declaration.Accessibility;
        return
        [
            $"// {v.Symbol}: {v.Size} bytes at 0x{v.Offset:x} (align {v.Align}), {v.Location}",
            $"{access} const ulong {v.Name}Offset = 0x{v.Offset:x};",
            $"{v.Declaration.Modifiers} ref {v.ValueType} {v.Name} => ref *({v.ValueType}*)({LayoutClass}.LocalBase + {v.Name}Offset);",
            .. AddressMembers(access, v.Name, v.ValueType),
        ];
    }

    // A module's own variable: at a constant offset from the module's section, which the
    // loader places. This CPU's copy is one load of SectionLocal plus a constant.
    private static List<string> ModuleMembers(PerCpuVariable v)
    {
        string access = v.Declaration.Accessibility;
        return
        [
            $"// {v.Symbol}: {v.Size} bytes at 0x{v.Offset:x} of the module's {SectionName} (align {v.Align}){(v.Exported ? ", exported" : string.Empty)}, {v.Location}",
            $"{access} static ulong {v.Name}Offset => {ModuleClass}.SectionLocal - {LayoutClass}.LocalBase + 0x{v.Offset:x};",
            $"{v.Declaration.Modifiers} ref {v.ValueType} {v.Name} => ref *({v.ValueType}*)({ModuleClass}.SectionLocal + 0x{v.Offset:x});",
            .. AddressMembers(access, v.Name, v.ValueType),
        ];
    }

    // A variable of the kernel or another module, wherever the loader resolved its symbol.
    private static List<string> ImportMembers(PerCpuImport import, int index)
    {
        string access = import.Declaration.Accessibility;
        return
        [
            $"// {import.Symbol}: declared here, defined elsewhere, {import.Location}",
            $"{access} static ulong {import.Name}Offset => {ModuleClass}.Import{index}Local - {LayoutClass}.LocalBase;",
            $"{import.Declaration.Modifiers} ref {import.ValueType} {import.Name} => ref *({import.ValueType}*){ModuleClass}.Import{index}Local;",
            .. AddressMembers(access, import.Name, import.ValueType),
        ];
    }

    // per_cpu(x, cpu) by reference, and per_cpu_ptr(&x, cpu): CPU `cpu`'s copy at its global address.
    private static List<string> AddressMembers(string access, string name, string valueType) =>
    [
        $"{access} static ref {valueType} {name}On(int cpu) => ref *({valueType}*){LayoutClass}.GlobalAddress(cpu, {name}Offset);",
        $"{access} static {valueType}* {name}Pointer(int cpu) => ({valueType}*){LayoutClass}.GlobalAddress(cpu, {name}Offset);",
    ];

    // The declaring type's generated part, nested in its namespace and containing types.
    private static void EmitDeclaringType(StringBuilder s, PerCpuDeclaration declaration, List<List<string>> members)
    {
        string? ns = declaration.Namespace;
        IReadOnlyList<string> chain = declaration.TypeHeaders;
        string indent = "";
        if (ns is not null)
        {
            s.AppendLine(CultureInfo.InvariantCulture, $"namespace {ns}");
            s.AppendLine("{");
            indent = "    ";
        }

        foreach (string typeHeader in chain)
        {
            s.AppendLine(CultureInfo.InvariantCulture, $"{indent}{typeHeader}");
            s.AppendLine(CultureInfo.InvariantCulture, $"{indent}{{");
            indent += "    ";
        }

        foreach (string line in members.SelectMany(m => m))
        {
            s.AppendLine(CultureInfo.InvariantCulture, $"{indent}{line}");
        }

        foreach (string _ in chain)
        {
            indent = indent[..^4];
            s.AppendLine(CultureInfo.InvariantCulture, $"{indent}}}");
        }

        if (ns is not null)
        {
            s.AppendLine("}");
        }
    }

    private static string EmitAssembly(PerCpuSection section)
    {
        var s = new StringBuilder();
        s.AppendLine("; Generated by build/PerCpuGenerator.cs from the kernel's [DefinePerCpu] declarations. Do not edit.");
        s.AppendLine("; The linker script places .data..percpu at address 0 between __per_cpu_start and __per_cpu_end,");
        s.AppendLine("; so each symbol's value is the variable's offset in every CPU's unit (docs/percpu.md).");
        s.AppendLine("bits 64");
        EmitSection(s, section);
        return s.ToString();
    }

    /// <summary>
    /// A module's per-CPU asm: its .data..percpu (symbols at their offsets in it; the loader
    /// resolves each to allocation + value) and the offsets table PerCpuModule.Bind reads,
    /// whose R_X86_64_64 entries the loader fills in. Empty when the module has no per-CPU data.
    /// </summary>
    public static string EmitModuleAssembly(PerCpuSection section, string module)
    {
        if (section.IsEmpty)
        {
            return string.Empty;
        }

        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture, $"; Per-CPU data of {module}, generated by build/PerCpuGenerator.cs (docs/modules.md).");
        const string start = "percy_module_percpu_start";
        if (section.Variables.Count > 0)
        {
            // A local label: references to it are relocations against the section symbol,
            // which the loader resolves to the section's per-CPU offset.
            EmitSection(s, section, start);
        }

        s.AppendLine();
        s.AppendLine("; PerCpuModule.Bind's table: per-CPU offsets, R_X86_64_64 relocations resolved at load.");
        foreach (PerCpuImport import in section.Imports)
        {
            s.AppendLine(CultureInfo.InvariantCulture, $"extern {import.Symbol}");
        }

        s.AppendLine("section .rodata progbits alloc noexec nowrite align=8");
        s.AppendLine("percy_module_percpu_table:");
        s.AppendLine(section.Variables.Count > 0 ? $"    dq {start}" : "    dq 0                                ; no section of its own");
        foreach (PerCpuImport import in section.Imports)
        {
            s.AppendLine(CultureInfo.InvariantCulture, $"    dq {import.Symbol}    ; [DeclarePerCpu] {import.DeclaringType}.{import.Name}, {import.Location}");
        }

        s.AppendLine("section .text progbits alloc exec nowrite align=16");
        s.AppendLine(CultureInfo.InvariantCulture, $"global {ModuleOffsetsSymbol}:function");
        s.AppendLine(CultureInfo.InvariantCulture, $"{ModuleOffsetsSymbol}:");
        s.AppendLine("    lea rax, [rel percy_module_percpu_table]");
        s.AppendLine("    ret");
        return s.ToString();
    }

    private static void EmitSection(StringBuilder s, PerCpuSection section, string? startLabel = null)
    {
        s.AppendLine(CultureInfo.InvariantCulture, $"section {SectionName} progbits alloc write noexec align={section.Align}");
        if (startLabel is not null)
        {
            s.AppendLine(CultureInfo.InvariantCulture, $"{startLabel}:");
        }

        s.AppendLine();
        ulong at = 0;
        foreach (PerCpuVariable v in section.Variables)
        {
            if (v.Offset > at)
            {
                s.AppendLine(CultureInfo.InvariantCulture, $"    times {v.Offset - at} db 0");
            }

            s.AppendLine(CultureInfo.InvariantCulture, $"; {v.DeclaringType}.{v.Name}: {v.ValueType}, {v.Size} bytes, align {v.Align}, {v.Location}");
            s.AppendLine(CultureInfo.InvariantCulture, $"global {v.Symbol}:data {v.Size}");
            s.AppendLine(CultureInfo.InvariantCulture, $"{v.Symbol}:");
            if (v.Initial is { } bytes)
            {
                s.AppendLine("    db " + string.Join(", ", bytes.Select(b => $"0x{b:x2}")));
            }
            else
            {
                s.AppendLine(CultureInfo.InvariantCulture, $"    times {v.Size} db 0");
            }

            at = v.Offset + v.Size;
        }

        if (section.Size > at)
        {
            s.AppendLine(CultureInfo.InvariantCulture, $"    times {section.Size - at} db 0");
        }
    }

    public static void WriteIfChanged(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (!File.Exists(path) || File.ReadAllText(path) != text)
        {
            File.WriteAllText(path, text);
        }
    }

    private static ulong AlignUp(ulong value, ulong align) => (value + align - 1) & ~(align - 1);
}
