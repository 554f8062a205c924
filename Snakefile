include: "workflow/Snakefile"


# Snakemake keeps an included file's default_target to itself, so this file names the
# default: a bare `snakemake --cores 8` runs `all`, as `snakemake -s workflow/Snakefile` does.
localrules:
    default,


rule default:
    input:
        rules.all.input,
    default_target: True
