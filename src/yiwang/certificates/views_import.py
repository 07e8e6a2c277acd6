"""存量证照导入 pages: upload a file for one type, read the validation report, confirm, watch progress.

The progress page refreshes itself every few seconds (``<meta http-equiv="refresh">``) while the
import runs, so it works without JavaScript; with JavaScript it polls the small JSON endpoint.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from yiwang.certificates import imports
from yiwang.core.errors import DomainError, NotFound
from yiwang.core.views_office import staff_required


def _run(request, pk: int):
    try:
        return imports.get_run(request.user, pk)
    except NotFound:
        raise Http404("导入记录不存在 / import not found") from None


@staff_required
@require_http_methods(["GET", "POST"])
def import_start(request):
    types = imports.types_importable(request.user)
    if not types:
        raise PermissionDenied("仅限颁发机构的事项管理员或机构管理员 / catalog or organisation administrators only")
    context = {"types": types, "runs": imports.runs_for(request.user, types)[:20], "type_id": request.POST.get("type", "")}
    if request.method == "GET":
        return render(request, "certificates/import_start.html", context)
    ctype = next((t for t in types if str(t.pk) == request.POST.get("type", "")), None)
    errors: dict[str, list[str]] = {}
    if ctype is None:
        errors["type"] = ["请选择证照类型 / choose a certificate type"]
    upload = request.FILES.get("file")
    if upload is None:
        errors["file"] = ["请选择要导入的 CSV 或 XLSX 文件 / choose a CSV or XLSX file"]
    if not errors:
        try:
            run = imports.prepare(request.user, ctype, upload)
        except DomainError as exc:
            errors = exc.fields or {"file": [exc.message]}
        else:
            return redirect("office_certificate_import_run", pk=run.pk)
    summary = [{"label": "", "text": m, "href": f"#f-{k}"} for k, ms in errors.items() for m in ms]
    return render(request, "certificates/import_start.html", {
        **context, "errors": errors, "summary": summary,
        "message": "无法读取或校验该文件 / the file cannot be checked"}, status=400)


@staff_required
def import_template(request, type_id: int):
    ctype = next((t for t in imports.types_importable(request.user) if t.pk == type_id), None)
    if ctype is None:
        raise Http404
    response = HttpResponse(imports.template_csv(ctype), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{ctype.type_code}.csv"'
    return response


@staff_required
def import_run(request, pk: int):
    run = _run(request, pk)
    return render(request, "certificates/import_run.html", {
        "run": run, "progress": imports.progress(run),
        "columns": imports.columns(run.certificate_type)})


@staff_required
@require_POST
def import_confirm(request, pk: int):
    run = _run(request, pk)
    try:
        imports.confirm(request.user, run)
    except DomainError as exc:
        run.refresh_from_db()
        return render(request, "certificates/import_run.html", {
            "run": run, "progress": imports.progress(run), "columns": imports.columns(run.certificate_type),
            "message": exc.message}, status=exc.status)
    return redirect("office_certificate_import_run", pk=run.pk)


@staff_required
def import_progress(request, pk: int):
    return JsonResponse(imports.progress(_run(request, pk)))

