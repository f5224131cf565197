using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Percy.Build;

/// <summary>
/// <c>[DefinePerCpu(InitialFrom = nameof(Template))]</c>: the initial bytes of a per-CPU
/// variable of any type, from a <c>static readonly</c> (or <c>const</c>) field of the same
/// type in the declaring class, whose initializer is a constant, <c>default</c>, or an
/// object initializer of constants and nested initializers:
/// <code>static readonly CacheLineStats StatsInit = new() { Cpu = -1, Ticks = 5 };</code>
/// The bytes are laid out with <see cref="PerCpuTypeLayout"/>, so they match the offsets
/// the compiler uses (sizes are re-checked in the kernel by PerCpuStatic.VerifyTypeSizes).
/// </summary>
internal static class PerCpuInitializer
{
    public static byte[]? Evaluate(Compilation compilation, IPropertySymbol property, string? fieldName, ulong size, out string? error)
    {
        error = null;
        IFieldSymbol? field = fieldName is null ? null : property.ContainingType.GetMembers(fieldName).OfType<IFieldSymbol>().FirstOrDefault();
        if (field is null || !field.IsStatic || !(field.IsReadOnly || field.IsConst))
        {
            error = $"InitialFrom = \"{fieldName}\" must name a static readonly field of {property.ContainingType.Name}";
            return null;
        }

        if (!SymbolEqualityComparer.Default.Equals(field.Type, property.Type))
        {
            error = $"InitialFrom field {field.Name} is a {field.Type.ToDisplayString()}, not a {property.Type.ToDisplayString()}";
            return null;
        }

        if (field.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax() is not VariableDeclaratorSyntax { Initializer.Value: { } value } declarator)
        {
            error = $"InitialFrom field {field.Name} has no initializer";
            return null;
        }

        var bytes = new byte[size];
        SemanticModel model = compilation.GetSemanticModel(declarator.SyntaxTree);
        error = Write(bytes, 0, property.Type, value, model);
        return error is null ? bytes : null;
    }

    private static string? Write(byte[] bytes, ulong at, ITypeSymbol type, ExpressionSyntax expression, SemanticModel model)
    {
        Optional<object?> constant = model.GetConstantValue(expression);
        if (constant.HasValue && constant.Value is not null)
        {
            var layoutErrors = new List<string>();
            (ulong size, _) = PerCpuTypeLayout.Of(type, layoutErrors);
            byte[]? value = PerCpuGenerator.ConstantBytes(type, constant.Value, size, out string? error);
            if (value is null)
            {
                return $"{expression}: {error}";
            }

            value.CopyTo(bytes, (int)at);
            return null;
        }

        switch (expression)
        {
            case LiteralExpressionSyntax or DefaultExpressionSyntax:
                return constant.HasValue || expression is DefaultExpressionSyntax ? null : $"{expression}: not a constant";
            case BaseObjectCreationExpressionSyntax creation:
                if (creation.ArgumentList is { Arguments.Count: > 0 })
                {
                    return $"{expression}: constructor arguments are not evaluated; use an object initializer";
                }

                return creation.Initializer is null ? null : WriteInitializer(bytes, at, type, creation.Initializer, model);
            default:
                return $"{expression}: not a constant, default, or an object initializer";
        }
    }

    private static string? WriteInitializer(byte[] bytes, ulong at, ITypeSymbol type, InitializerExpressionSyntax initializer, SemanticModel model)
    {
        foreach (ExpressionSyntax item in initializer.Expressions)
        {
            if (item is not AssignmentExpressionSyntax { Left: IdentifierNameSyntax name } assignment
                || model.GetSymbolInfo(name).Symbol is not IFieldSymbol { IsStatic: false } field
                || type is not INamedTypeSymbol structType)
            {
                return $"{item}: only `Field = value` assignments are evaluated";
            }

            var errors = new List<string>();
            ulong offset = at + PerCpuTypeLayout.FieldOffset(structType, field, errors);
            if (errors.Count > 0)
            {
                return errors[0];
            }

            string? error = assignment.Right is InitializerExpressionSyntax nested
                ? WriteInitializer(bytes, offset, field.Type, nested, model)
                : Write(bytes, offset, field.Type, assignment.Right, model);
            if (error is not null)
            {
                return error;
            }
        }

        return null;
    }
}
